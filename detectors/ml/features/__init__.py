"""Feature pipelines, one module per entity class: each turns a frame of events
(:func:`detectors.ml.frames.load_frame`) into one row per (entity, window).

``FEATURE_SETS`` maps a name to its :class:`~detectors.ml.features.common.FeatureSet`.
"""

from __future__ import annotations

from detectors.ml.features import dns, host, source, user
from detectors.ml.features.common import FeatureSet

FEATURE_SETS: dict[str, FeatureSet] = {fs.name: fs for fs in (host.FEATURES, user.FEATURES, source.FEATURES,
                                                             dns.FEATURES)}  # fmt: skip

__all__ = ["FEATURE_SETS", "FeatureSet"]
