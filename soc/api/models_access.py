"""Request and response models of the auth, users, tokens and audit routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024, repr=False)


class UserOut(BaseModel):
    username: str
    role: str
    display_name: str
    agency_id: str | None
    organization: str
    disabled: bool
    soc_lead: bool
    has_password: bool
    created: str
    updated: str


class LoginOut(BaseModel):
    user: UserOut
    csrf_token: str = Field(
        description="Send it back in the `X-CSRF-Token` header of every state-changing request "
        "(it is also in the `soc_csrf` cookie)"
    )
    expires: str = Field(description="Absolute end of the session, ISO 8601 UTC")


class MeOut(BaseModel):
    name: str
    role: str
    agency_id: str | None
    source: str
    soc_lead: bool
    user: UserOut | None = Field(description="The user record; null for the engine's own token")


class UserIn(_In):
    username: str = Field(min_length=2, max_length=64)
    role: str
    password: str | None = Field(
        default=None, max_length=1024, repr=False, description="Required except for service users"
    )
    display_name: str = Field("", max_length=200)
    agency_id: str | None = Field(None, max_length=64, description="Required for agency_officer, only for it")
    organization: str | None = Field(
        None, max_length=200, description="Required for auditor: not the SOC's own organization"
    )
    soc_lead: bool = Field(False, description="May approve national reports (soc_analyst, admin)")


class UserPatch(_In):
    display_name: str | None = Field(None, max_length=200)
    role: str | None = None
    agency_id: str | None = Field(None, max_length=64)
    organization: str | None = Field(None, max_length=200)
    disabled: bool | None = None
    soc_lead: bool | None = None
    password: str | None = Field(None, max_length=1024, repr=False)


class UsersOut(BaseModel):
    users: list[UserOut]


class TokenOut(BaseModel):
    id: str
    name: str
    owner: str
    role: str
    created: str
    expires: str | None
    last_used: str | None
    revoked: str | None


class TokenIn(_In):
    name: str = Field(min_length=1, max_length=100)
    role: str | None = Field(None, description="Default: the owner's role; or a narrower one")
    owner: str | None = Field(None, max_length=64, description="Another user's token (admin only)")
    expires_days: int | None = Field(90, ge=1, le=3650, description="null: never expires")


class TokenCreated(BaseModel):
    token: str = Field(description="The bearer token: shown this once, stored only as a hash")
    record: TokenOut


class TokensOut(BaseModel):
    tokens: list[TokenOut]


class AuditEntryOut(BaseModel):
    seq: int
    ts: str
    actor: str
    role: str
    source: str
    action: str
    target_type: str
    target_id: str
    before: Any
    after: Any
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    cursor: int | None = Field(description="Pass back as `after` for the next page; null on the last")


class AuditVerifyOut(BaseModel):
    ok: bool
    entries: int
    broken_seq: int | None
    reason: str | None
