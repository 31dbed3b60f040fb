"""The HTTP API application: ``create_app(ctx)``.

OpenAPI is served at ``/openapi.json`` and ``/docs``. Every ``/api`` route but login
needs a bearer token or a session cookie (see ``soc/api/auth.py``) and declares the
roles it admits; errors are JSON ``{"detail": "..."}``.
"""

from __future__ import annotations

from fastapi import FastAPI

from soc.api import (
    errors,
    routes_alerts,
    routes_assets,
    routes_audit,
    routes_auth,
    routes_deadletters,
    routes_events,
    routes_forwarding,
    routes_ingest,
    routes_rules,
    routes_suppressions,
    routes_system,
    routes_tokens,
    routes_triage,
    routes_users,
)
from soc.api.context import VERSION, ApiContext


def create_app(ctx: ApiContext) -> FastAPI:
    """A FastAPI app serving ``ctx`` (reachable in routes as ``request.app.state.ctx``)."""
    app = FastAPI(
        title="SOC engine API",
        version=VERSION,
        description="Search events, read alerts, ingest raw logs. Authenticate with a bearer token.",
    )
    app.state.ctx = ctx
    errors.install(app)
    app.include_router(routes_system.router)
    app.include_router(routes_events.router)
    app.include_router(routes_alerts.router)
    app.include_router(routes_ingest.router)
    app.include_router(routes_deadletters.router)
    app.include_router(routes_rules.router)
    app.include_router(routes_triage.router)
    app.include_router(routes_assets.router)
    app.include_router(routes_suppressions.router)
    app.include_router(routes_auth.router)
    app.include_router(routes_users.router)
    app.include_router(routes_tokens.router)
    app.include_router(routes_audit.router)
    app.include_router(routes_forwarding.router)
    return app
