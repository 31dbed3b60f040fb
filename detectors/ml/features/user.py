"""User features per window: logons, hosts reached, off-hours share, failures and
privilege use (Windows 4672-4674, sudo)."""

from __future__ import annotations

import pandas as pd

from detectors.ml.features.common import (
    AGENCY,
    ENTITY,
    PRIVILEGE_CODES,
    WINDOW,
    FeatureSet,
    agency_of,
    code,
    empty,
    finish,
    is_auth,
    is_failure,
    is_success,
    nunique_by,
    off_hours,
    text,
)
from detectors.ml.frames import window_starts
from soc.store.base import FieldFilter

FIELDS = ("user.name", "host.name", "source.ip", "event.category", "event.outcome", "event.code",
          "process.name", "organization.id")  # fmt: skip
FEATURE_NAMES = ("logons", "distinct_hosts", "off_hours_share", "failures", "privilege_use")
IGNORED_USERS = frozenset({"", "-", "SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE"})


def compute(frame: pd.DataFrame, window_seconds: int, zone: str) -> pd.DataFrame:
    if frame.empty or "user.name" not in frame:
        return empty(FEATURE_NAMES)
    df = frame[frame["user.name"].notna() & ~frame["user.name"].isin(IGNORED_USERS)].copy()
    if df.empty:
        return empty(FEATURE_NAMES)
    df[ENTITY] = df["user.name"]
    df[WINDOW] = window_starts(df["@timestamp"], window_seconds)
    keys = [ENTITY, WINDOW]
    auth = is_auth(df)
    logon = df[auth & is_success(df)]
    out = pd.DataFrame({"logons": logon.groupby(keys).size()})
    out = out.reindex(df.groupby(keys).size().index)
    out["distinct_hosts"] = nunique_by(df[auth], keys, "host.name")
    late = off_hours(df["@timestamp"], zone)
    out["off_hours_share"] = late[auth].groupby([df[ENTITY][auth], df[WINDOW][auth]]).mean()
    out["failures"] = df[auth & is_failure(df)].groupby(keys).size()
    privileged = code(df).isin(PRIVILEGE_CODES) | (text(df, "process.name") == "sudo").fillna(False)
    out["privilege_use"] = df[privileged].groupby(keys).size()
    out[AGENCY] = agency_of(df, keys)
    return finish(out, FEATURE_NAMES)


def evidence(entity: str) -> list[list[FieldFilter]]:
    return [[FieldFilter("user.name", "eq", entity), FieldFilter("event.category", "eq", "authentication")],
            [FieldFilter("user.name", "eq", entity)]]  # fmt: skip


FEATURES = FeatureSet(
    name="user",
    entity_field="user.name",
    fields=FIELDS,
    features=FEATURE_NAMES,
    compute=compute,
    evidence=evidence,
    description="per user: logons, distinct hosts, off-hours share, failures, privilege use",
)
