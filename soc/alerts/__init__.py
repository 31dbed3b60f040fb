"""Alerts: the model, their deduplicating repository in the state store."""

from soc.alerts.model import Alert
from soc.alerts.repository import AlertChange, AlertFilter, AlertRepository

__all__ = ["Alert", "AlertChange", "AlertFilter", "AlertRepository"]
