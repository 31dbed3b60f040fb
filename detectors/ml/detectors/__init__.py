"""ML detectors, one module per detector; ``DETECTORS`` maps a detector name to a
new instance of it (see :mod:`detectors.ml.detectors.base` for the interface)."""

from __future__ import annotations

from collections.abc import Callable

from detectors.ml.detectors import (
    anomaly,
    beaconing,
    bruteforce,
    dga,
    dns_tunnel,
    exfiltration,
    rare_process,
    scan,
)
from detectors.ml.detectors.base import MLDetector

DETECTORS: dict[str, Callable[[], MLDetector]] = {
    "scan": scan.ScanDetector,
    "bruteforce_source": bruteforce.SourceBruteForceDetector,
    "bruteforce_user": bruteforce.UserBruteForceDetector,
    "dns_tunnel": dns_tunnel.DnsTunnelDetector,
    "dga": dga.DgaDetector,
    "beaconing": beaconing.BeaconingDetector,
    "exfiltration": exfiltration.ExfiltrationDetector,
    "rare_process": rare_process.RareProcessDetector,
    "anomaly_host": lambda: anomaly.AnomalyDetector("host"),
    "anomaly_user": lambda: anomaly.AnomalyDetector("user"),
    "anomaly_source": lambda: anomaly.AnomalyDetector("source"),
    "anomaly_dns": lambda: anomaly.AnomalyDetector("dns"),
}

__all__ = ["DETECTORS", "MLDetector"]
