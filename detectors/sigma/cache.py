"""On-disk cache of parsed rule files, keyed by path and content hash.

Parsing the SigmaHQ corpus with pySigma (YAML, modifiers, condition trees) is the slow
part of loading (~15 s); compiling the parsed rules to closures is fast. The cache keeps
:func:`detectors.sigma.loader.load_file`'s result (pySigma rule objects and load errors)
per ``(path, sha256 of the bytes)`` in one pickle file per set of rule paths, so an unchanged file is never
parsed twice. Closures are not cached (they cannot be pickled); they are rebuilt.
Files holding correlation rules are not cached (resolution mutates them).

The directory is ``cache_dir`` in configs/sigma.yaml, else ``$SOC_SIGMA_CACHE``, else
``~/.cache/soc/sigma``; ``cache_dir: ""`` turns the cache off. A cache that cannot be read
(corrupt, another pySigma version) is ignored and rewritten.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import sigma

CACHE_VERSION = f"1-{getattr(sigma, '__version__', '')}"


def default_cache_dir() -> Path:
    env = os.environ.get("SOC_SIGMA_CACHE")
    if env is not None:
        return Path(env)
    return Path.home() / ".cache" / "soc" / "sigma"


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class RuleCache:
    """``(path, digest) -> parsed file`` entries, read once and written back by :meth:`save`."""

    def __init__(self, directory: Path | None, scope: str = "") -> None:
        self.directory = directory
        # one cache file per set of rule paths, so small rule sets never read the corpus cache
        self.file_name = f"rules-{hashlib.sha256(scope.encode()).hexdigest()[:16]}.pickle"
        self._entries: dict[tuple[str, str], Any] = {}
        self._used: set[tuple[str, str]] = set()
        self._dirty = False
        self.hits = 0
        self.misses = 0
        if directory is not None:
            self._read()

    def _read(self) -> None:
        assert self.directory is not None
        try:
            with open(self.directory / self.file_name, "rb") as fh:
                data = pickle.load(fh)
        except (
            OSError,
            EOFError,
            pickle.UnpicklingError,
            AttributeError,
            ImportError,
            TypeError,
            ValueError,
        ):
            return
        if isinstance(data, dict) and data.get("version") == CACHE_VERSION:
            self._entries = data.get("entries", {})

    def get(self, path: str, digest: str) -> Any:
        key = (path, digest)
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._used.add(key)
        return entry

    def put(self, path: str, digest: str, value: Any) -> None:
        if self.directory is None:
            return
        self._entries[(path, digest)] = value
        self._used.add((path, digest))
        self._dirty = True

    def save(self) -> None:
        """Write the entries back; an older version of a file used by this load is dropped."""
        if self.directory is None or not self._dirty:
            return
        used_paths = {p for p, _ in self._used}
        entries = {k: v for k, v in self._entries.items() if k in self._used or k[0] not in used_paths}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".rules-cache-")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(
                    {"version": CACHE_VERSION, "entries": entries}, fh, protocol=pickle.HIGHEST_PROTOCOL
                )
            os.replace(tmp, self.directory / self.file_name)
        except (OSError, pickle.PicklingError, RecursionError):
            return
        self._entries = entries
        self._dirty = False
