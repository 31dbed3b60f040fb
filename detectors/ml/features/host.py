"""Host features per window: activity, fan-out, outbound volume, failed logons, new
processes and services. The host is ``host.name``, or the source address of a
network flow that names no host (pcap, NetFlow)."""

from __future__ import annotations

import pandas as pd

from detectors.ml.features.common import (
    AGENCY,
    ENTITY,
    SERVICE_INSTALL_CODES,
    WINDOW,
    FeatureSet,
    agency_of,
    as_float,
    code,
    empty,
    finish,
    is_auth,
    is_connection,
    is_failure,
    is_process_start,
    nunique_by,
)
from detectors.ml.frames import window_starts
from soc.store.base import FieldFilter

FIELDS = (
    "host.name",
    "source.ip",
    "destination.ip",
    "destination.port",
    "source.bytes",
    "event.category",
    "event.type",
    "event.outcome",
    "event.action",
    "event.code",
    "organization.id",
    "dns.type",
)
FEATURE_NAMES = (
    "events_per_min",
    "distinct_dst_ports",
    "distinct_dst_ips",
    "bytes_out",
    "failed_logons",
    "new_processes",
    "new_services",
)


def compute(frame: pd.DataFrame, window_seconds: int, zone: str) -> pd.DataFrame:
    if frame.empty:
        return empty(FEATURE_NAMES)
    df = frame.copy()
    flows = is_connection(df)
    named = df["host.name"].where(df["host.name"].notna(), None)
    df[ENTITY] = named.where(named.notna(), df["source.ip"].where(flows))
    df = df[df[ENTITY].notna()]
    if df.empty:
        return empty(FEATURE_NAMES)
    df[WINDOW] = window_starts(df["@timestamp"], window_seconds)
    keys = [ENTITY, WINDOW]
    flows = is_connection(df)
    conn = df[flows]
    out = pd.DataFrame({"events_per_min": df.groupby(keys).size() / (window_seconds / 60.0)})
    out["distinct_dst_ports"] = nunique_by(conn, keys, "destination.port")
    out["distinct_dst_ips"] = nunique_by(conn, keys, "destination.ip")
    sent = conn[conn["source.ip"].eq(conn[ENTITY]) | conn["host.name"].notna()]
    out["bytes_out"] = as_float(sent["source.bytes"]).groupby([sent[ENTITY], sent[WINDOW]]).sum()
    out["failed_logons"] = df[is_auth(df) & is_failure(df)].groupby(keys).size()
    out["new_processes"] = df[is_process_start(df)].groupby(keys).size()
    out["new_services"] = df[code(df).isin(SERVICE_INSTALL_CODES)].groupby(keys).size()
    out[AGENCY] = agency_of(df, keys)
    return finish(out, FEATURE_NAMES)


def evidence(entity: str) -> list[list[FieldFilter]]:
    return [[FieldFilter("host.name", "eq", entity)], [FieldFilter("source.ip", "eq", entity)]]


FEATURES = FeatureSet(
    name="host",
    entity_field="host.name",
    fields=FIELDS,
    features=FEATURE_NAMES,
    compute=compute,
    evidence=evidence,
    description="per host: events/min, distinct destination ports and IPs, bytes out, failed logons, "
    "new processes, new services",
)
