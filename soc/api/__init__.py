"""The engine's HTTP API: :class:`ApiContext` (what the engine hands it) and
:func:`create_app`."""

from soc.api.app import create_app
from soc.api.context import ApiContext

__all__ = ["ApiContext", "create_app"]
