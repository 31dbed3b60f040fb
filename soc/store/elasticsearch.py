"""ElasticsearchStore: the event store on an Elasticsearch cluster (8.x or 9.x).

Writes are ``_bulk`` ``create`` actions with ``_id`` = ``event.id`` into daily index
families (:mod:`soc.store.es.templates`), so a re-delivered event is a ``409`` and
counted as a duplicate. A batch is split by ``bulk_max_events`` / ``bulk_max_bytes``;
items refused with 429 or 5xx are retried with backoff, then the write raises a
retryable :class:`StoreError` (the engine keeps the batch in the spool and retries);
items refused for good (mapping errors) come back in ``WriteResult.rejected`` with
the server's reason. An unreachable cluster is a retryable error too, also at
start: templates are installed on the first call that reaches the cluster.

Queries use the query DSL over the ``soc_q`` query fields (:mod:`soc.store.es.dsl`),
``search_after`` for pages, and terms / date_histogram / cardinality / composite
aggregations. The client is thread-safe; writes are serialised by a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from elasticsearch import Elasticsearch

from soc.event import Event, ensure_utc, format_ts, parse_ts
from soc.store.base import Bucket, Page, Query, Sort, StoreError, StoreStats, WriteResult
from soc.store.cursor import DEFAULT_SORT, check_sort, decode_cursor, encode_cursor, is_time_field
from soc.store.es import templates
from soc.store.es.client import RETRY_STATUS, ClientSettings, build_client, item_reason, translate
from soc.store.es.dsl import q, query_dsl, sort_dsl, sort_field
from soc.store.es.shadow import SHADOW, shadow
from soc.store.fields import check_event, lookup
from soc.store.match import ALL, check_query
from soc.store.memory import epoch_us, from_epoch_us

DEFAULT_RETENTION = {level: 365 for level in templates.LEVELS}
BULK_FILTER = ("items.*.status", "items.*.error")
"""The parts of a bulk response the store reads: each item's status and error. Without
it the server encodes, and the client decodes, ~230 bytes per event it never reads."""


class ElasticsearchStore:
    """A :class:`~soc.store.base.Store` on an Elasticsearch (or OpenSearch-compatible) cluster."""

    def __init__(
        self,
        *,
        hosts: Sequence[str] = ("http://localhost:9200",),
        api_key_env: str | None = None,
        username: str | None = None,
        password_env: str | None = None,
        ca_file: str | None = None,
        verify_tls: bool = True,
        request_timeout_s: float = 10.0,
        index_prefix: str = "soc",
        bulk_max_events: int = 5000,
        bulk_max_bytes: int = 10 * 1024 * 1024,
        bulk_retries: int = 3,
        retention_days_by_level: Mapping[int, int] | None = None,
        refresh: bool = False,
        read_only: bool = False,
        node_class: Any = None,
    ) -> None:
        if not index_prefix or index_prefix != index_prefix.lower() or not index_prefix[0].isalnum():
            raise ValueError(
                f"elasticsearch: index_prefix must be lowercase and start with a letter or "
                f"digit, got {index_prefix!r}"
            )
        if bulk_max_events < 1 or bulk_max_bytes < 1024:
            raise ValueError("elasticsearch: bulk_max_events must be >= 1 and bulk_max_bytes >= 1024")
        self.settings = ClientSettings(
            tuple(hosts),
            api_key_env,
            username,
            password_env,
            ca_file,
            verify_tls,
            request_timeout_s,
            node_class=node_class,
        )
        self.prefix = index_prefix
        self.pattern = f"{index_prefix}-events-*"
        self.bulk_max_events = bulk_max_events
        self.bulk_max_bytes = bulk_max_bytes
        self.bulk_retries = bulk_retries
        self.retention = {
            **DEFAULT_RETENTION,
            **{int(k): int(v) for k, v in (retention_days_by_level or {}).items()},
        }
        self.refresh = refresh
        self.read_only = read_only
        self.bulk_sizes: list[int] = []
        """Events per bulk request sent (the most recent 1000), for benchmarks."""
        self.ilm = False
        self._es: Elasticsearch = build_client(self.settings)
        self._wlock = threading.Lock()
        self._setup_lock = threading.Lock()
        self._ready = False
        self._closed = False
        try:
            self._ensure_setup()
        except StoreError as exc:
            if not exc.retryable:
                raise  # otherwise set up on the first call that reaches the cluster

    def __repr__(self) -> str:
        return f"ElasticsearchStore(hosts={list(self.settings.hosts)!r}, index_prefix={self.prefix!r})"

    # -- setup ------------------------------------------------------------------------------

    def _ensure_setup(self) -> None:
        if self._closed:
            raise StoreError("elasticsearch: store is closed", retryable=False)
        if self._ready or self.read_only:
            return
        with self._setup_lock:
            if not self._ready:
                self.install_templates()
                self._ready = True

    def install_templates(self) -> None:
        """Install or upgrade the component and index templates (and ILM policies where
        the cluster has ILM). Idempotent."""
        es = self._es
        try:
            try:
                es.ilm.get_status()
                self.ilm = True
            except Exception:  # no ILM (OpenSearch, or a restricted user): delete indices
                self.ilm = False
            if self.ilm:
                for level, days in self.retention.items():
                    es.ilm.put_lifecycle(
                        name=templates.policy_name(self.prefix, level), policy=templates.ilm_policy(days)
                    )
            es.cluster.put_component_template(
                name=f"{self.prefix}-ecs", **templates.ecs_component(self.prefix)
            )
            for level in templates.LEVELS:
                es.indices.put_index_template(
                    name=f"{self.prefix}-events-l{level}",
                    **templates.events_template(self.prefix, level, ilm=self.ilm),
                )
            es.indices.put_index_template(
                name=f"{self.prefix}-alerts", **templates.alerts_template(self.prefix)
            )
        except Exception as exc:
            raise translate(exc, "installing index templates") from None

    # -- writes -----------------------------------------------------------------------------

    def write(self, events: Sequence[Event]) -> WriteResult:
        if self.read_only:
            raise StoreError("elasticsearch: store is open read-only", retryable=False)
        actions: list[tuple[Event, bytes]] = []
        for i, event in enumerate(events):
            event_id = check_event(event, i)[0]
            try:
                doc = orjson.dumps({**event, SHADOW: shadow(event)})
            except TypeError as exc:
                raise StoreError(
                    f"event {i} (id {event_id!r}): not JSON-serialisable: {exc}", retryable=False
                ) from None
            head = orjson.dumps(
                {"create": {"_index": templates.index_name(self.prefix, event), "_id": event_id}}
            )
            actions.append((event, head + b"\n" + doc + b"\n"))
        self._ensure_setup()
        result = WriteResult()
        with self._wlock:
            for chunk in self._chunks(actions):
                self._send(chunk, result)
        return result

    def _chunks(self, actions: list[tuple[Event, bytes]]) -> list[list[tuple[Event, bytes]]]:
        chunks: list[list[tuple[Event, bytes]]] = [[]]
        size = 0
        for action in actions:
            if chunks[-1] and (
                len(chunks[-1]) >= self.bulk_max_events or size + len(action[1]) > self.bulk_max_bytes
            ):
                chunks.append([])
                size = 0
            chunks[-1].append(action)
            size += len(action[1])
        return [c for c in chunks if c]

    def _send(self, chunk: list[tuple[Event, bytes]], result: WriteResult) -> None:
        pending = chunk
        delay = 0.2
        for attempt in range(self.bulk_retries + 1):
            self.bulk_sizes = [*self.bulk_sizes[-999:], len(pending)]
            try:
                resp = self._es.bulk(
                    operations=b"".join(a[1] for a in pending),
                    refresh="wait_for" if self.refresh else None,
                    filter_path=BULK_FILTER,
                )
            except Exception as exc:
                raise translate(exc, f"bulk write of {len(pending)} events") from None
            retry: list[tuple[Event, bytes]] = []
            last_reason = ""
            for action, item in zip(pending, resp.body["items"], strict=True):
                res = item.get("create") or next(iter(item.values()))
                status = int(res.get("status", 500))
                if status in (200, 201):
                    result.stored += 1
                elif status == 409:
                    result.duplicates += 1
                elif status in RETRY_STATUS:
                    retry.append(action)
                    last_reason = item_reason(res.get("error"))
                else:
                    result.rejected.append(
                        (action[0], f"elasticsearch HTTP {status}: {item_reason(res.get('error'))}")
                    )
            if not retry:
                return
            pending = retry
            if attempt < self.bulk_retries:
                time.sleep(delay)
                delay *= 2
        raise StoreError(
            f"elasticsearch: {len(pending)} bulk items still refused after {self.bulk_retries} "
            f"retries: {last_reason}",
            retryable=True,
        )

    def flush(self) -> None:
        """Make everything written searchable (a refresh; durability is the cluster's translog)."""
        if self.read_only or not self._ready:
            return
        self._call(lambda: self._es.indices.refresh(index=self.pattern, allow_no_indices=True), "refresh")

    def delete_before(self, cutoff: datetime) -> int:
        if self.read_only:
            raise StoreError("elasticsearch: store is open read-only", retryable=False)
        cutoff = ensure_utc(cutoff)
        self._ensure_setup()
        resp = self._call(
            lambda: self._es.delete_by_query(
                index=self.pattern,
                query={"range": {q("t", "@timestamp"): {"lt": format_ts(cutoff)}}},
                refresh=True,
                conflicts="proceed",
                allow_no_indices=True,
            ),
            "retention delete",
        )
        return int(resp.get("deleted", 0))

    def apply_retention(self, now: datetime | None = None) -> list[str]:
        """Delete whole daily indices past their security level's retention (for clusters
        without ILM; with ILM the policies do it). Returns the deleted index names."""
        if self.ilm:
            return []
        names = [
            r["index"]
            for r in self._call(
                lambda: self._es.cat.indices(index=self.pattern, format="json", h="index"), "listing indices"
            ).body
        ]
        expired = templates.expired_indices(names, self.retention, ensure_utc(now or datetime.now(UTC)))
        for name in expired:
            self._call(lambda n=name: self._es.indices.delete(index=n), f"deleting index {name}")
        return expired

    def index_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """Index alert documents (each with ``alert.id``) into ``<prefix>-alerts`` for Kibana;
        the same alert id overwrites the previous version."""
        self._ensure_setup()
        body = b"".join(
            orjson.dumps({"index": {"_index": f"{self.prefix}-alerts", "_id": a["alert"]["id"]}})
            + b"\n"
            + orjson.dumps(a)
            + b"\n"
            for a in alerts
        )
        if body:
            self._call(lambda: self._es.bulk(operations=body), "indexing alerts")

    # -- reads ------------------------------------------------------------------------------

    def _call(self, fn: Any, doing: str) -> Any:
        if self._closed:
            raise StoreError("elasticsearch: store is closed", retryable=False)
        try:
            return fn()
        except Exception as exc:
            raise translate(exc, doing) from None

    def _search(self, doing: str, **body: Any) -> Any:
        return self._call(
            lambda: self._es.search(
                index=self.pattern, allow_no_indices=True, ignore_unavailable=True, **body
            ),
            doing,
        ).body

    def get(self, event_ids: Sequence[str]) -> list[Event]:
        ids = list(dict.fromkeys(event_ids))
        found: dict[str, Event] = {}
        for start in range(0, len(ids), 1000):
            part = ids[start : start + 1000]
            hits = self._search("get", query={"ids": {"values": part}}, size=len(part))["hits"]["hits"]
            for h in hits:
                found[h["_id"]] = _source(h)
        return [found[i] for i in ids if i in found]

    def search(
        self, query: Query, *, size: int = 100, sort: Sort = DEFAULT_SORT, after: str | None = None
    ) -> Page:
        check_sort(sort)
        if size < 1:
            raise ValueError(f"search size must be >= 1, got {size}")
        dsl = query_dsl(check_query(query))
        total = self.count(query)
        extra: dict[str, Any] = {"sort": sort_dsl(sort)}
        if after is not None:
            cv, cid = decode_cursor(after, sort)
            if cv is None:  # in the tail of events without the sort field: order by id only
                id_op = "lt" if sort.descending else "gt"
                dsl = {
                    "bool": {
                        "filter": [dsl, {"range": {"event.id": {id_op: cid}}}],
                        "must_not": [{"term": {f"{SHADOW}.x": sort.field}}],
                    }
                }
                extra = {"sort": sort_dsl(sort, with_field=False)}
            else:
                extra["search_after"] = [cv * 1000 if is_time_field(sort.field) else cv, cid]
        hits = self._search("search", query=dsl, size=size + 1, track_total_hits=False, **extra)["hits"][
            "hits"
        ]
        events = [_source(h) for h in hits[:size]]
        cursor = None
        if len(hits) > size:
            last = events[-1]
            value = lookup(last, sort.field)
            if value is not None and is_time_field(sort.field):
                value = epoch_us(parse_ts(value))
            cursor = encode_cursor(sort, value, last["event"]["id"])
        return Page(events=events, cursor=cursor, total=total)

    def search_lucene(
        self,
        lucene: str,
        *,
        query: Query = ALL,
        size: int = 100,
        sort: Sort = DEFAULT_SORT,
        after: str | None = None,
    ) -> Page:
        """Events matching a Lucene query string (as pysigma-backend-elasticsearch writes it)
        over the ECS fields, AND the query model ``query``; paged like :meth:`search`."""
        if not isinstance(lucene, str) or not lucene.strip():
            raise ValueError("search_lucene needs a non-empty Lucene query string")
        check_sort(sort)
        base = query_dsl(check_query(query))
        dsl = {"bool": {"filter": [base, {"query_string": {"query": lucene, "analyze_wildcard": True}}]}}
        total = self._call(
            lambda: self._es.count(
                index=self.pattern, query=dsl, allow_no_indices=True, ignore_unavailable=True
            ),
            "lucene count",
        ).body["count"]
        extra: dict[str, Any] = {"sort": sort_dsl(sort)}
        if after is not None:
            cv, cid = decode_cursor(after, sort)
            if cv is None:
                raise ValueError(
                    "search_lucene cannot page past events missing the sort field; sort on @timestamp"
                )
            extra["search_after"] = [cv * 1000 if is_time_field(sort.field) else cv, cid]
        hits = self._search("lucene search", query=dsl, size=size + 1, **extra)["hits"]["hits"]
        events = [_source(h) for h in hits[:size]]
        cursor = None
        if len(hits) > size:
            value = lookup(events[-1], sort.field)
            if value is not None and is_time_field(sort.field):
                value = epoch_us(parse_ts(value))
            cursor = encode_cursor(sort, value, events[-1]["event"]["id"])
        return Page(events=events, cursor=cursor, total=total)

    def count(self, query: Query = ALL) -> int:
        dsl = query_dsl(check_query(query))
        resp = self._call(
            lambda: self._es.count(
                index=self.pattern, query=dsl, allow_no_indices=True, ignore_unavailable=True
            ),
            "count",
        )
        return int(resp.body["count"])

    def count_by(self, query: Query, field: str, *, size: int = 10) -> list[Bucket]:
        if size < 1:
            raise ValueError(f"count_by size must be >= 1, got {size}")
        field = _check_field(field)
        dsl = query_dsl(check_query(query))
        order = [{"_count": "desc"}, {"_key": "asc"}]
        terms = {"size": size, "shard_size": max(size * 20, 1000), "order": order}
        aggs = {k: {"terms": {"field": q(k, field), **terms}} for k in ("n", "s", "b")}
        res = self._search("count_by", query=dsl, size=0, aggs=aggs)["aggregations"]
        ranked: list[tuple[tuple[int, float, str], int, Any]] = []
        for b in res["n"]["buckets"]:
            key = float(b["key"])
            ranked.append(((0, key, ""), b["doc_count"], int(key) if key.is_integer() else key))
        for b in res["s"]["buckets"]:
            ranked.append(((1, 0.0, b["key"]), b["doc_count"], b["key"]))
        for b in res["b"]["buckets"]:
            text = b.get("key_as_string") or ("true" if b["key"] else "false")
            ranked.append(((2, 0.0, text), b["doc_count"], text == "true"))
        ranked.sort(key=lambda r: (-r[1], r[0]))
        return [Bucket(key=key, count=n) for _, n, key in ranked[:size]]

    def group_by(
        self, query: Query, fields: Sequence[str], *, size: int = 1000
    ) -> list[tuple[tuple[Any, ...], int]]:
        """Counts per combination of the ECS ``fields`` (a composite aggregation, paged to
        the end): ``[((value, ...), count), ...]`` in key order, at most ``size`` groups."""
        if not fields:
            raise ValueError("group_by needs at least one field")
        dsl = query_dsl(check_query(query))
        sources = [{f"f{i}": {"terms": {"field": f}}} for i, f in enumerate(_check_field(f) for f in fields)]
        out: list[tuple[tuple[Any, ...], int]] = []
        after_key = None
        while len(out) < size:
            comp: dict[str, Any] = {"size": min(1000, size - len(out)), "sources": sources}
            if after_key:
                comp["after"] = after_key
            agg = self._search("group_by", query=dsl, size=0, aggs={"g": {"composite": comp}})[
                "aggregations"
            ]["g"]
            for b in agg["buckets"]:
                out.append((tuple(b["key"][f"f{i}"] for i in range(len(fields))), b["doc_count"]))
            after_key = agg.get("after_key")
            if not agg["buckets"] or not after_key:
                break
        return out[:size]

    def histogram(self, query: Query, interval_seconds: int) -> list[Bucket]:
        if interval_seconds < 1:
            raise ValueError(f"histogram interval must be >= 1 second, got {interval_seconds}")
        dsl = query_dsl(check_query(query))
        agg = {
            "date_histogram": {
                "field": q("t", "@timestamp"),
                "fixed_interval": f"{int(interval_seconds)}s",
                "min_doc_count": 1,
            }
        }
        res = self._search("histogram", query=dsl, size=0, aggs={"h": agg})["aggregations"]["h"]["buckets"]
        return [Bucket(key=from_epoch_us(int(b["key"]) * 1000), count=b["doc_count"]) for b in res]

    def distinct_count(self, query: Query, field: str) -> int:
        field = _check_field(field)
        dsl = query_dsl(check_query(query))
        aggs = {
            k: {"cardinality": {"field": q(k, field), "precision_threshold": 40000}} for k in ("n", "s", "b")
        }
        res = self._search("distinct_count", query=dsl, size=0, aggs=aggs)["aggregations"]
        return sum(int(res[k]["value"]) for k in ("n", "s", "b"))

    def stats(self) -> StoreStats:
        n = self.count()
        ends = []
        for desc in (False, True):
            hits = self._search(
                "stats", size=1, query={"match_all": {}}, sort=sort_dsl(Sort("@timestamp", desc))
            )["hits"]["hits"]
            ends.append(parse_ts(_source(hits[0])["@timestamp"]) if hits else None)
        size = None
        try:
            rows = self._es.cat.indices(
                index=self.pattern, format="json", h="index,store.size", bytes="b"
            ).body
            size = sum(int(r.get("store.size") or 0) for r in rows)
        except Exception:  # size is informational
            size = None
        return StoreStats(
            events=n,
            oldest=ends[0],
            newest=ends[1],
            bytes_on_disk=size,
            extra={"hosts": list(self.settings.hosts), "index_prefix": self.prefix, "ilm": self.ilm},
        )

    def close(self) -> None:
        with self._wlock:
            if not self._closed:
                self._closed = True
                self._es.close()


def _source(hit: Mapping[str, Any]) -> Event:
    doc = dict(hit["_source"])
    doc.pop(SHADOW, None)
    return doc


def _check_field(field: str) -> str:
    if not isinstance(field, str) or not field or any(not p for p in field.split(".")):
        raise ValueError(f"field must be a dotted ECS path, got {field!r}")
    return field


__all__ = ["ElasticsearchStore", "sort_field"]
