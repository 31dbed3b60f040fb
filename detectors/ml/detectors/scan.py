"""Perimeter scan: a source address reaching unusually many ports or addresses, or
failing (denied, reset) on unusually many ports, compared with every source seen."""

from __future__ import annotations

from detectors.ml.detectors.base import ZScoreDetector


class ScanDetector(ZScoreDetector):
    name = "scan"
    title_vi = "Dò quét cổng/địa chỉ từ bên ngoài"
    title_en = "Port or address scan"
    severity = "medium"
    tags = ("attack.discovery", "attack.t1046")
    feature_set = "source"
    group_field = "source.ip"
    key_features = ("failed_dst_ports", "distinct_dst_ports", "distinct_dst_ips")
    top_k = 1
    default_threshold = 3.0
    gate = {"distinct_dst_ports": 4, "distinct_dst_ips": 8}  # noqa: RUF012
