"""Password hashing with argon2id (argon2-cffi's ``PasswordHasher``).

:meth:`Passwords.verify` says when a stored hash was made with other parameters than
the current ones, so the caller can store a fresh hash (rehash on parameter change).
Unknown users still cost one verification (:meth:`Passwords.burn`), so the time of a
login does not reveal whether the username exists. At most ``max_concurrent``
verifications run at once (each takes the hasher's ``memory_cost``, 64 MiB by
default), so a flood of logins queues instead of exhausting memory.
"""

from __future__ import annotations

import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from soc.access.errors import InvalidRequest

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


def check_password(password: str) -> None:
    """Refuse a password too short or too long to hash (the message never contains it)."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"password: must be at least {MIN_PASSWORD_LENGTH} characters / "
            f"mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequest(f"password: must be at most {MAX_PASSWORD_LENGTH} characters")


class Passwords:
    """argon2id hashing; ``hasher`` defaults to argon2-cffi's RFC 9106 parameters."""

    def __init__(self, hasher: PasswordHasher | None = None, *, max_concurrent: int = 4) -> None:
        self.hasher = hasher or PasswordHasher()
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._dummy = self.hasher.hash("not a real password; equalises login time")

    def __repr__(self) -> str:
        h = self.hasher
        return f"Passwords(argon2id t={h.time_cost} m={h.memory_cost} p={h.parallelism})"

    def hash(self, password: str) -> str:
        check_password(password)
        with self._slots:
            return self.hasher.hash(password)

    def verify(self, stored_hash: str, password: str) -> tuple[bool, str | None]:
        """``(matches, new_hash)``: ``new_hash`` is set when the password matches a hash
        made with other parameters than the current ones."""
        try:
            with self._slots:
                self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False, None
        if self.hasher.check_needs_rehash(stored_hash):
            return True, self.hasher.hash(password)
        return True, None

    def burn(self, password: str) -> None:
        """Spend one verification on a dummy hash (unknown or password-less users)."""
        try:
            with self._slots:
                self.hasher.verify(self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass
