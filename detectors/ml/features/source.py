"""Source address features per window, for addresses seen at the perimeter and at the
login prompts: denied connections, distinct targets and ports, authentication failures
and the user names tried."""

from __future__ import annotations

import pandas as pd

from detectors.ml.features.common import (
    AGENCY,
    ENTITY,
    WINDOW,
    FeatureSet,
    agency_of,
    empty,
    finish,
    is_auth,
    is_connection,
    is_denied,
    is_failure,
    nunique_by,
)
from detectors.ml.frames import window_starts
from soc.store.base import FieldFilter

FIELDS = ("source.ip", "destination.ip", "destination.port", "user.name", "event.category", "event.type",
          "event.outcome", "event.action", "event.reason", "organization.id", "dns.type")  # fmt: skip
FEATURE_NAMES = (
    "connections",
    "denies",
    "distinct_dst_ips",
    "distinct_dst_ports",
    "auth_failures",
    "distinct_users_failed",
    "failure_ratio",
    "failed_connections",
    "failed_dst_ports",
    "login_port_connections",
)
REMOTE_LOGIN_PORTS = (21, 22, 23, 445, 1433, 3306, 3389, 5432, 5900)
FAILED_REASONS = ("rst", "reset", "refused", "timeout", "rejected")


def compute(frame: pd.DataFrame, window_seconds: int, zone: str) -> pd.DataFrame:
    if frame.empty:
        return empty(FEATURE_NAMES)
    df = frame[frame["source.ip"].notna()].copy()
    if df.empty:
        return empty(FEATURE_NAMES)
    df[ENTITY] = df["source.ip"]
    df[WINDOW] = window_starts(df["@timestamp"], window_seconds)
    keys = [ENTITY, WINDOW]
    conn = df[is_connection(df)]
    auth = df[is_auth(df)]
    failed = auth[is_failure(auth)]
    out = pd.DataFrame({"connections": conn.groupby(keys).size()}).reindex(df.groupby(keys).size().index)
    out["denies"] = conn[is_denied(conn)].groupby(keys).size()
    out["distinct_dst_ips"] = nunique_by(conn, keys, "destination.ip")
    out["distinct_dst_ports"] = nunique_by(conn, keys, "destination.port")
    out["auth_failures"] = failed.groupby(keys).size()
    out["distinct_users_failed"] = nunique_by(failed, keys, "user.name")
    attempts = auth.groupby(keys).size()
    out["failure_ratio"] = (out["auth_failures"].fillna(0) / attempts).where(attempts > 0)
    reason = conn["event.reason"].astype("string").str.lower() if "event.reason" in conn else None
    failed_mask = is_denied(conn)
    if reason is not None:
        failed_mask = failed_mask | reason.isin(FAILED_REASONS).fillna(False).astype(bool)
    failed_conn = conn[failed_mask]
    out["failed_connections"] = failed_conn.groupby(keys).size()
    out["failed_dst_ports"] = nunique_by(failed_conn, keys, "destination.port")
    out["login_port_connections"] = (
        conn[conn["destination.port"].isin(REMOTE_LOGIN_PORTS)].groupby(keys).size()
    )
    out[AGENCY] = agency_of(df, keys)
    return finish(out, FEATURE_NAMES)


def evidence(entity: str) -> list[list[FieldFilter]]:
    return [[FieldFilter("source.ip", "eq", entity)]]


FEATURES = FeatureSet(
    name="source",
    entity_field="source.ip",
    fields=FIELDS,
    features=FEATURE_NAMES,
    compute=compute,
    evidence=evidence,
    description="per source address: connections, denies, distinct destination IPs and ports, "
    "authentication failures, distinct users failed, failure ratio, failed (denied or reset) connections "
    "and their distinct ports, connections to remote-login ports",
)
