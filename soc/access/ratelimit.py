"""Login rate limiting: per username and per client address, with exponential lockout.

After ``max_failures`` failed logins for a key, each further failure locks the key for
``base_lockout_s * 2**(n - max_failures)`` seconds (capped at ``max_lockout_s``). A
success clears the username's count (not the address's: one known account must not
reset a password spray from the same address); an address's count is forgotten after
``max_lockout_s`` without failures. Attempts, failures, refusals and lockouts are
counted in Prometheus (``soc_login_attempts_total{outcome}``,
``soc_login_lockouts_total{scope}``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter

MAX_KEYS = 100_000


@dataclass(slots=True)
class _Record:
    failures: int = 0
    locked_until: float = 0.0
    last_failure: float = 0.0


class LoginLimiter:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        base_lockout_s: float = 30.0,
        max_lockout_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
        registry: CollectorRegistry | None = None,
        namespace: str = "soc",
    ) -> None:
        self.max_failures = max_failures
        self.base_lockout_s = base_lockout_s
        self.max_lockout_s = max_lockout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], _Record] = {}
        self.attempts = Counter(
            "login_attempts",
            "Login attempts by outcome (success, failure, locked).",
            ["outcome"],
            namespace=namespace,
            registry=registry,
        )
        self.lockouts = Counter(
            "login_lockouts",
            "Lockouts started by failed logins, by scope (user, address).",
            ["scope"],
            namespace=namespace,
            registry=registry,
        )

    def _keys(self, username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", username.casefold()), ("address", address)

    def retry_after(self, username: str, address: str) -> float:
        """Seconds until this username and address may try again (0: now). A refused
        attempt is counted as ``locked``."""
        now = self._clock()
        with self._lock:
            wait = max(
                (r.locked_until - now for k in self._keys(username, address) if (r := self._records.get(k))),
                default=0.0,
            )
        if wait > 0:
            self.attempts.labels(outcome="locked").inc()
            return wait
        return 0.0

    def failure(self, username: str, address: str) -> float:
        """Count a failed login; the lockout it starts, in seconds (0: none)."""
        self.attempts.labels(outcome="failure").inc()
        now = self._clock()
        longest = 0.0
        with self._lock:
            self._prune(now)
            for key in self._keys(username, address):
                record = self._records.setdefault(key, _Record())
                if record.last_failure and now - record.last_failure > self.max_lockout_s:
                    record.failures = 0
                record.failures += 1
                record.last_failure = now
                if record.failures >= self.max_failures:
                    lockout = min(
                        self.base_lockout_s * 2 ** (record.failures - self.max_failures), self.max_lockout_s
                    )
                    record.locked_until = now + lockout
                    self.lockouts.labels(scope=key[0]).inc()
                    longest = max(longest, lockout)
        return longest

    def success(self, username: str, address: str) -> None:
        self.attempts.labels(outcome="success").inc()
        with self._lock:
            self._records.pop(self._keys(username, address)[0], None)

    def _prune(self, now: float) -> None:
        if len(self._records) < MAX_KEYS:
            return
        stale = [k for k, r in self._records.items() if now - r.last_failure > self.max_lockout_s]
        for key in stale:
            del self._records[key]
