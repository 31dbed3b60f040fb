"""The Elasticsearch test server: a real cluster (``SOC_TEST_ES_URL``) or, in CI,
osmem-server (an in-memory OpenSearch-compatible server) started once per test
process on a free port. If osmem cannot start, tests fail; they never skip.

osmem refuses the client's ``compatible-with`` media types, so only here the client
gets :class:`PlainJsonNode`, which sends plain ``application/json``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from typing import Any

from elastic_transport import HttpHeaders, Urllib3HttpNode

_lock = threading.Lock()
_server: Any = None


class PlainJsonNode(Urllib3HttpNode):
    """A urllib3 node that sends ``application/json`` / ``application/x-ndjson``
    instead of ``application/vnd.elasticsearch+json; compatible-with=N``."""

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        **kwargs: Any,
    ) -> Any:
        fixed = HttpHeaders(headers or {})
        for name in ("accept", "content-type"):
            value = fixed.get(name)
            if value and "compatible-with" in value:
                fixed[name] = "application/x-ndjson" if "ndjson" in value else "application/json"
        return super().perform_request(method, target, body, fixed, **kwargs)


GO_GC_ENV = {"GOGC": "300", "GOMEMLIMIT": "3GiB"}
"""Go runtime settings for osmem unless the environment sets them: garbage collection
is a fifth of osmem's CPU per indexed document at the default ``GOGC=100``; 300 cuts
osmem's CPU per document by about a quarter (bench/es_ingest.py), and the soft memory
limit makes the collector work harder instead of letting the heap pass 3 GiB."""


@contextlib.contextmanager
def _go_gc_env() -> Iterator[None]:
    """``GO_GC_ENV`` in this process's environment while osmem starts (it inherits it)."""
    added = {k: v for k, v in GO_GC_ENV.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def es_url() -> str:
    """The URL of the test cluster, starting osmem-server on first use."""
    global _server
    if url := os.environ.get("SOC_TEST_ES_URL"):
        return url
    with _lock:
        if _server is None:
            from osmem_server import OsmemServer

            with _go_gc_env():
                _server = OsmemServer.start(japanese=False)  # raises (test fails) if it cannot start
            atexit.register(_server.close)
        return str(_server.url)


def osmem_pid() -> int | None:
    """The process id of the osmem-server this process started, if any (benchmarks)."""
    return None if _server is None else int(_server.pid)


def es_options(name: str, **extra: Any) -> dict[str, Any]:
    """Store options for a test namespace: its own index prefix on the test cluster."""
    prefix = "t" + hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
    options: dict[str, Any] = {"hosts": [es_url()], "index_prefix": prefix, "refresh": True}
    if not os.environ.get("SOC_TEST_ES_URL"):
        options["node_class"] = PlainJsonNode
    options.update(extra)
    return options


def open_es_store(name: str, **extra: Any) -> Any:
    from soc.store.elasticsearch import ElasticsearchStore

    return ElasticsearchStore(**es_options(name, **extra))
