"""Alerts: the model, their deduplicating repository in the state store, suppressions
and the triage workflow."""

from soc.alerts.actor import Actor
from soc.alerts.model import Alert
from soc.alerts.queue import AlertFilter
from soc.alerts.repository import AlertChange, AlertRepository

__all__ = ["Actor", "Alert", "AlertChange", "AlertFilter", "AlertRepository"]
