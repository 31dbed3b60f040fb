"""Value lists of ``blacklist``/``whitelist`` rules: inline values and ``!file PATH`` entries.

A ``!file`` entry (ElastAlert's form) names a text file of values, one per line (blank
lines and ``#`` comments ignored); a relative path is relative to the rule file. Files are
re-read when their modification time or size changes (:meth:`ValueList.refresh`, called on
every detector reload); a file that cannot be read keeps its previous values and the error
is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_PREFIX = "!file "


class ValueListError(ValueError):
    pass


def _read(path: Path) -> set[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueListError(f"cannot read value file {path}: {e}") from None
    return {line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")}


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


@dataclass(slots=True)
class ValueList:
    """Inline values plus the values of files, as strings."""

    inline: frozenset[str]
    files: dict[Path, set[str]] = field(default_factory=dict)
    signatures: dict[Path, tuple[int, int] | None] = field(default_factory=dict)
    reloads: int = 0
    values: frozenset[str] = frozenset()

    @classmethod
    def from_entries(cls, entries: Any, base_dir: Path) -> ValueList:
        if not isinstance(entries, list):
            raise ValueListError("must be a list of values or '!file PATH' entries")
        inline: set[str] = set()
        paths: list[Path] = []
        for entry in entries:
            if isinstance(entry, str) and entry.startswith(FILE_PREFIX):
                p = Path(entry[len(FILE_PREFIX) :].strip()).expanduser()
                paths.append(p if p.is_absolute() else base_dir / p)
            elif isinstance(entry, (str, int, float)) and not isinstance(entry, bool):
                inline.add(str(entry))
            else:
                raise ValueListError(f"entry {entry!r} is not a value or '!file PATH'")
        vl = cls(frozenset(inline))
        for p in paths:
            vl.files[p] = _read(p)
            vl.signatures[p] = _signature(p)
        vl._join()
        return vl

    def _join(self) -> None:
        self.values = frozenset(self.inline.union(*self.files.values()))

    def refresh(self) -> list[str]:
        """Re-read changed files; returns the errors (old values kept for those files)."""
        errors: list[str] = []
        changed = False
        for p in list(self.files):
            sig = _signature(p)
            if sig == self.signatures.get(p):
                continue
            try:
                self.files[p] = _read(p)
            except ValueListError as e:
                errors.append(str(e))
                continue
            self.signatures[p] = sig
            changed = True
        if changed:
            self.reloads += 1
            self._join()
        return errors

    def __contains__(self, value: Any) -> bool:
        return str(value) in self.values

    def __len__(self) -> int:
        return len(self.values)
