"""schemathesis over the OpenAPI spec of the whole API, as admin and as an agency
officer (the scoped paths): no input gives a server error (5xx). Bounded (a few
examples per operation) to run in seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from soc.pipeline.deadletter import DeadLetterStore
from soc.state import StateStore
from tests.helpers_access import AccessEnv, make_access_env
from tests.helpers_api import TOKEN

MAX_EXAMPLES = 8


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    return value.encode("utf-8", "surrogatepass") if isinstance(value, str) else str(value).encode()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[AccessEnv]:
    side = StateStore(tmp_path / "deadletters.db")
    ingested: list[Any] = []
    env = make_access_env(
        tmp_path,
        ingest=ingested.extend,
        dead_letters=DeadLetterStore(side),
        wait_drained=lambda timeout: True,
        rule_status=lambda: [],  # an engine whose scheduler has no rules yet (503 is for "no scheduler")
        metrics_public=True,
    )
    yield env
    env.close()
    side.close()


@pytest.mark.parametrize("who", ["engine-admin", "agency_officer"])
def test_no_server_error_on_any_operation(env: AccessEnv, who: str) -> None:
    token = TOKEN if who == "engine-admin" else env.tokens[who]
    schema = schemathesis.openapi.from_asgi("/openapi.json", env.client.app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def call(case: Any) -> None:
            response = case.call(headers={"Authorization": f"Bearer {token}"})
            if response.status_code >= 500:
                failures.append(
                    f"{case.operation.label} path={case.path_parameters} query={case.query} -> "
                    f"{response.status_code} {response.text[:200]}"
                )

        call()
    assert operations >= 25
    assert not failures, "\n".join(failures[:20])
