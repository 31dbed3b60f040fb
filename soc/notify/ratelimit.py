"""Token buckets for notification rate limits (per channel and per recipient).

A bucket holds up to ``burst`` tokens and gains ``per_minute / 60`` a second. A
notification that finds no token is delayed until one is due, never dropped.
Times are plain seconds (the worker passes wall-clock epoch seconds), so tests can
drive the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    per_minute: float
    burst: int
    tokens: float = field(default=-1.0)
    updated: float | None = None

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError("a token bucket needs per_minute > 0 and burst >= 1")
        if self.tokens < 0:
            self.tokens = float(self.burst)

    def _refill(self, now: float) -> None:
        if self.updated is not None and now > self.updated:
            self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.per_minute / 60)
        if self.updated is None or now > self.updated:
            self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until a token is available (0: one is)."""
        self._refill(now)
        missing = 1.0 - self.tokens
        return 0.0 if missing <= 1e-9 else missing * 60 / self.per_minute

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0


class RateLimiter:
    """One bucket per channel and one per (channel, recipient); a send needs both."""

    def __init__(self, channel_rate: tuple[float, int], recipient_rate: tuple[float, int]) -> None:
        self.channel_rate = channel_rate
        self.recipient_rate = recipient_rate
        self._channels: dict[str, TokenBucket] = {}
        self._recipients: dict[tuple[str, str], TokenBucket] = {}

    def _buckets(self, channel: str, recipient: str) -> tuple[TokenBucket, TokenBucket]:
        ch = self._channels.get(channel)
        if ch is None:
            ch = self._channels[channel] = TokenBucket(*self.channel_rate)
        rc = self._recipients.get((channel, recipient))
        if rc is None:
            rc = self._recipients[(channel, recipient)] = TokenBucket(*self.recipient_rate)
        return ch, rc

    def acquire(self, channel: str, recipient: str, now: float) -> float:
        """Take a token from both buckets and return 0, or return the seconds to wait
        (nothing taken)."""
        buckets = self._buckets(channel, recipient)
        wait = max(b.wait_time(now) for b in buckets)
        if wait > 0:
            return wait
        for bucket in buckets:
            bucket.take(now)
        return 0.0
