"""Outbound volume spike (possible exfiltration): bytes a host sent in a window against
that host's own baseline (or its agency's when it has too few windows)."""

from __future__ import annotations

from detectors.ml.detectors.base import ZScoreDetector


class ExfiltrationDetector(ZScoreDetector):
    name = "exfiltration"
    title_vi = "Lưu lượng gửi ra tăng đột biến (nghi rò rỉ dữ liệu)"
    title_en = "Outbound volume spike (possible exfiltration)"
    severity = "high"
    tags = ("attack.exfiltration", "attack.t1041")
    feature_set = "host"
    group_field = "host.name"
    key_features = ("bytes_out", "distinct_dst_ips")
    top_k = 1
    use_entity = True
    default_threshold = 5.0
    gate = {"bytes_out": 20_000_000}  # noqa: RUF012
