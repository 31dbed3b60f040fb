"""Errors of the access package: one root, each kind mapped to an HTTP status and a
CLI exit code at the boundary. Messages never contain a password or a token."""

from __future__ import annotations


class AccessError(Exception):
    """Root of the access errors."""


class InvalidRequest(AccessError):
    """A value that breaks a rule (unknown role, missing agency, weak password...)."""


class NotFound(AccessError):
    """No such user, token or session (or one the caller may not see)."""


class Conflict(AccessError):
    """The thing exists already (a username taken)."""


class InvalidCredentials(AccessError):
    """Wrong username or password, or a disabled user: one message for all, so a
    caller cannot tell which."""

    def __init__(self) -> None:
        super().__init__("invalid username or password / sai tên đăng nhập hoặc mật khẩu")


class LockedOut(AccessError):
    """Too many failed logins for this username or address; retry after ``retry_after`` s."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, int(retry_after + 0.999))
        super().__init__(
            f"too many failed logins; retry in {self.retry_after} s / "
            f"đăng nhập sai quá nhiều lần; thử lại sau {self.retry_after} giây"
        )
