"""DNS client features per window: query rate, distinct names and domains, NXDOMAIN
share, and the shape of the names asked (entropy and length of the labels below the
registered domain, the longest such part, the share of TXT/NULL queries)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from detectors.ml.features.common import (
    AGENCY,
    ENTITY,
    WINDOW,
    FeatureSet,
    agency_of,
    empty,
    finish,
    is_dns_answer,
    is_dns_query,
    shannon_entropy,
    text,
)
from detectors.ml.frames import window_starts
from soc.store.base import FieldFilter

FIELDS = (
    "source.ip",
    "destination.ip",
    "dns.question.name",
    "dns.question.registered_domain",
    "dns.question.type",
    "dns.response_code",
    "dns.type",
    "event.action",
    "organization.id",
)
FEATURE_NAMES = (
    "queries_per_min",
    "distinct_names",
    "distinct_domains",
    "nxdomain_share",
    "mean_label_entropy",
    "mean_name_length",
    "max_subdomain_length",
    "names_per_domain",
    "txt_null_share",
)
TUNNEL_TYPES = frozenset({"TXT", "NULL", "CNAME", "MX", "PRIVATE"})


def registered_domain(name: str, registered: object) -> str:
    if isinstance(registered, str) and registered:
        return registered.lower()
    labels = name.lower().rstrip(".").split(".")
    return ".".join(labels[-2:])


def subdomain(name: str, registered: str) -> str:
    """The part of ``name`` below its registered domain, without dots."""
    name = name.lower().rstrip(".")
    head = name[: -len(registered)] if registered and name.endswith(registered) else name
    return head.rstrip(".").replace(".", "")


def name_table(queries: pd.DataFrame) -> pd.DataFrame:
    """Per query: registered domain, the part below it, its entropy and length."""
    names = queries["dns.question.name"].astype(str)
    regs = [
        registered_domain(n, r)
        for n, r in zip(names, text(queries, "dns.question.registered_domain"), strict=True)
    ]
    subs = [subdomain(n, r) for n, r in zip(names, regs, strict=True)]
    return pd.DataFrame(
        {
            "domain": regs,
            "sub": subs,
            "entropy": [shannon_entropy(s) for s in subs],
            "length": names.str.len().to_numpy(),
            "sub_length": [len(s) for s in subs],
        },
        index=queries.index,
    )


def compute(frame: pd.DataFrame, window_seconds: int, zone: str) -> pd.DataFrame:
    if frame.empty or "dns.question.name" not in frame:
        return empty(FEATURE_NAMES)
    queries = frame[
        is_dns_query(frame) & frame["dns.question.name"].notna() & frame["source.ip"].notna()
    ].copy()
    if queries.empty:
        return empty(FEATURE_NAMES)
    queries[ENTITY] = queries["source.ip"]
    queries[WINDOW] = window_starts(queries["@timestamp"], window_seconds)
    keys = [ENTITY, WINDOW]
    shape = name_table(queries)
    queries = queries.join(shape)
    grouped = queries.groupby(keys)
    out = pd.DataFrame({"queries_per_min": grouped.size() / (window_seconds / 60.0)})
    out["distinct_names"] = grouped["dns.question.name"].nunique()
    out["distinct_domains"] = grouped["domain"].nunique()
    out["mean_label_entropy"] = grouped["entropy"].mean()
    out["mean_name_length"] = grouped["length"].mean()
    out["max_subdomain_length"] = grouped["sub_length"].max()
    out["names_per_domain"] = queries.groupby([*keys, "domain"])["sub"].nunique().groupby(keys).max()
    qtype = text(queries, "dns.question.type").fillna("").astype(str).str.upper()
    out["txt_null_share"] = qtype.isin(TUNNEL_TYPES).groupby([queries[ENTITY], queries[WINDOW]]).mean()
    answers = frame[is_dns_answer(frame) & frame["destination.ip"].notna()]
    if not answers.empty:
        aw = window_starts(answers["@timestamp"], window_seconds)
        nx = (text(answers, "dns.response_code") == "NXDOMAIN").fillna(False).astype(float)
        out["nxdomain_share"] = nx.groupby(
            [answers["destination.ip"].rename(ENTITY), aw.rename(WINDOW)]
        ).mean()
    out[AGENCY] = agency_of(queries, keys)
    table = finish(out, FEATURE_NAMES)
    table["mean_label_entropy"] = np.round(table["mean_label_entropy"], 6)
    return table


def evidence(entity: str) -> list[list[FieldFilter]]:
    return [
        [FieldFilter("source.ip", "eq", entity), FieldFilter("event.action", "eq", "dns_query")],
        [FieldFilter("source.ip", "eq", entity)],
    ]


FEATURES = FeatureSet(
    name="dns",
    entity_field="source.ip",
    fields=FIELDS,
    features=FEATURE_NAMES,
    compute=compute,
    evidence=evidence,
    description="per DNS client: query rate, distinct names and domains, NXDOMAIN share, mean label "
    "entropy and name length, longest subdomain, names per domain, TXT/NULL share",
)
