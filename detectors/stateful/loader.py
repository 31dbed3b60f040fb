"""Load stateful rule files: every good rule, and every error with file, line and key.

:func:`load_rules` never stops at a bad file or rule: each problem becomes a
:class:`RuleError` and the other rules still load. A file may hold several rules as YAML
documents (``---``). Rule ids must be unique across the loaded files.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from detectors.sigma.fieldmap import FieldMap
from detectors.stateful.model import StatefulRule, build_rule
from detectors.stateful.params import RuleError

RULE_SUFFIXES = (".yml", ".yaml")
STATEFUL_DIR = "stateful"


def iter_rule_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every stateful rule file under the given files or directories, sorted.

    A directory contributes its ``.yml``/``.yaml`` files that are in a ``stateful``
    folder (or the directory is one), and the others whose content is a stateful rule
    (a mapping whose ``type`` is a stateful rule type); a file given by name is always
    read.
    """
    for path in paths:
        path = Path(path)
        if path.is_dir():
            inside = path.name == STATEFUL_DIR
            for p in sorted(path.rglob("*")):
                if p.suffix not in RULE_SUFFIXES or not p.is_file():
                    continue
                if inside or STATEFUL_DIR in p.relative_to(path).parts[:-1] or is_stateful_content(p):
                    yield p
        elif path.is_file():
            yield path


def is_stateful_content(path: Path) -> bool:
    """Whether a YAML file holds a stateful rule (``type`` a stateful rule type, no Sigma
    ``detection``/``correlation`` at the top level)."""
    from detectors.stateful.registry import RULE_TYPES

    try:
        docs = list(yaml.safe_load_all(Path(path).read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return any(
        isinstance(d, dict)
        and d.get("type") in RULE_TYPES
        and "detection" not in d
        and "correlation" not in d
        for d in docs
    )


def is_stateful_file(path: Path) -> bool:
    """Whether a rule file given by name is a stateful rule rather than a Sigma rule."""
    return Path(path).parent.name == STATEFUL_DIR or is_stateful_content(path)


def _key_lines(text: str) -> list[dict[str, int]]:
    """1-based line of each top-level key, per document (positions only: nothing is built)."""
    out: list[dict[str, int]] = []
    try:
        for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
            lines: dict[str, int] = {}
            if isinstance(node, yaml.MappingNode):
                for key, _ in node.value:
                    if isinstance(key, yaml.ScalarNode):
                        lines[str(key.value)] = key.start_mark.line + 1
            out.append(lines)
    except yaml.YAMLError:
        pass
    return out


def load_file(path: Path, fields: FieldMap | None = None) -> tuple[list[StatefulRule], list[RuleError]]:
    """The rules of one file, and the errors (never raises)."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        docs: list[Any] = list(yaml.safe_load_all(text))
    except (OSError, UnicodeDecodeError) as e:
        return [], [RuleError(shown, None, f"cannot read file: {e}")]
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        return [], [RuleError(shown, None, f"invalid YAML: {e}", mark.line + 1 if mark else None)]
    lines = _key_lines(text)
    rules: list[StatefulRule] = []
    errors: list[RuleError] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict):
            errors.append(RuleError(shown, None, "a rule must be a YAML mapping"))
            continue
        built = build_rule(doc, shown, lines[i] if i < len(lines) else None, fields)
        if isinstance(built, list):
            errors.extend(built)
        else:
            rules.append(built)
    return rules, errors


def load_rules(
    paths: Sequence[Path], fields: FieldMap | None = None
) -> tuple[list[StatefulRule], list[RuleError]]:
    """Every good rule under ``paths`` and every error (file, line, key, reason)."""
    rules: list[StatefulRule] = []
    errors: list[RuleError] = []
    seen: dict[str, str] = {}
    for path in iter_rule_files(paths):
        file_rules, file_errors = load_file(path, fields)
        errors.extend(file_errors)
        for rule in file_rules:
            if rule.id in seen:
                errors.append(
                    RuleError(str(path), "id", f"duplicate rule id {rule.id} (also in {seen[rule.id]})")
                )
                continue
            seen[rule.id] = str(path)
            rules.append(rule)
    return rules, errors
