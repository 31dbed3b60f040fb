"""Log-source health: flatline rules that raise an alert when a source or device goes silent."""

from detectors.health.flatline import DeviceCounts, LogSource, LogSourceSilentRule

__all__ = ["DeviceCounts", "LogSource", "LogSourceSilentRule"]
