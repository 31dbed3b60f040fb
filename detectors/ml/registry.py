"""Trained models on disk, in the data directory (``<data-dir>/ml/models/<detector>/``):
``vNNNN.joblib`` beside ``vNNNN.json``, its metadata (version, training window,
window size, feature list, hash of the baseline data, library versions, the SHA-256 of
the model file).

joblib files are pickles: loading one runs code. A model is only loaded from this
directory, which the engine writes itself, and only when its SHA-256 matches the one
recorded at save time (:class:`ModelIntegrityError` otherwise). Never copy model files
here from a place you do not trust.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import orjson
import pandas as pd
import sklearn

from soc.event import format_ts, parse_ts, utcnow

FORMAT_VERSION = 1


class ModelIntegrityError(Exception):
    """A model file does not match its metadata (changed after it was saved)."""


@dataclass(slots=True)
class ModelMeta:
    detector: str
    version: int
    created: str
    train_start: str
    train_end: str
    window_seconds: int
    features: list[str]
    data_hash: str
    rows: int
    baseline_windows: int
    entities: int
    agencies: list[str] = field(default_factory=list)
    sha256: str = ""
    sklearn_version: str = sklearn.__version__
    format_version: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMeta:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def trained_at(self) -> datetime:
        return parse_ts(self.created)


def data_hash(table: pd.DataFrame) -> str:
    """SHA-256 of the baseline feature table (row values and column names)."""
    digest = hashlib.sha256(",".join(map(str, table.columns)).encode())
    if len(table):
        digest.update(pd.util.hash_pandas_object(table.astype(str), index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class ModelRegistry:
    """Versioned models of each detector under ``root``."""

    def __init__(self, root: Path, *, keep: int = 5) -> None:
        self.root = Path(root)
        self.keep = keep

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> ModelRegistry:
        return cls(Path(data_dir) / "ml" / "models")

    def _dir(self, detector: str) -> Path:
        return self.root / detector

    def versions(self, detector: str) -> list[int]:
        folder = self._dir(detector)
        if not folder.is_dir():
            return []
        return sorted(int(p.stem[1:]) for p in folder.glob("v*.json") if p.stem[1:].isdigit())

    def save(self, model: Any, meta: ModelMeta) -> ModelMeta:
        folder = self._dir(meta.detector)
        folder.mkdir(parents=True, exist_ok=True)
        meta.version = (self.versions(meta.detector) or [0])[-1] + 1
        meta.created = meta.created or format_ts(utcnow())
        stem = folder / f"v{meta.version:04d}"
        tmp = stem.with_suffix(".joblib.tmp")
        joblib.dump(model, tmp, compress=3)
        meta.sha256 = _sha256(tmp)
        os.replace(tmp, stem.with_suffix(".joblib"))
        tmp_meta = stem.with_suffix(".json.tmp")
        tmp_meta.write_bytes(orjson.dumps(meta.to_dict(), option=orjson.OPT_INDENT_2))
        os.replace(tmp_meta, stem.with_suffix(".json"))
        self._prune(meta.detector)
        return meta

    def _prune(self, detector: str) -> None:
        for version in self.versions(detector)[: -self.keep]:
            for suffix in (".json", ".joblib"):
                (self._dir(detector) / f"v{version:04d}{suffix}").unlink(missing_ok=True)

    def meta(self, detector: str, version: int | None = None) -> ModelMeta | None:
        versions = self.versions(detector)
        if not versions:
            return None
        version = versions[-1] if version is None else version
        path = self._dir(detector) / f"v{version:04d}.json"
        if not path.is_file():
            return None
        return ModelMeta.from_dict(orjson.loads(path.read_bytes()))

    def load(self, detector: str, version: int | None = None) -> tuple[Any, ModelMeta] | None:
        """The model and its metadata (newest version by default), after checking the
        file's SHA-256 against the metadata; ``None`` when there is none."""
        meta = self.meta(detector, version)
        if meta is None:
            return None
        path = self._dir(detector) / f"v{meta.version:04d}.joblib"
        if not path.is_file():
            raise ModelIntegrityError(f"{path}: model file missing (metadata v{meta.version} present)")
        actual = _sha256(path)
        if actual != meta.sha256:
            raise ModelIntegrityError(
                f"{path}: SHA-256 {actual[:16]}... does not match the saved "
                f"{meta.sha256[:16]}...; refusing to load"
            )
        return joblib.load(path), meta

    def detectors(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))
