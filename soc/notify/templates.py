"""Notification templates: Jinja2 in a sandbox, shipped defaults, user overrides.

Templates are rendered by :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` with
``StrictUndefined``: a template can read the values it is given, but not Python
internals (``''.__class__.__mro__``, ``cycler.__init__.__globals__`` raise
``SecurityError``) nor change them; HTML templates are autoescaped. A user template
that does not load or render is reported with its file and line and the shipped
template is used instead, so a bad edit never loses a notification.

Slots (``TEMPLATE_NAMES``), each a file under ``configs/templates``:
``email_subject``, ``email_text``, ``email_html``, ``webhook_text``,
``digest_subject``, ``digest_text``, ``digest_html``.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FunctionLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from soc.config import resource_root

log = logging.getLogger(__name__)

TEMPLATE_FILES: dict[str, str] = {
    "email_subject": "email_subject.txt.j2",
    "email_text": "email_text.txt.j2",
    "email_html": "email_html.html.j2",
    "webhook_text": "webhook_text.txt.j2",
    "digest_subject": "digest_subject.txt.j2",
    "digest_text": "digest_text.txt.j2",
    "digest_html": "digest_html.html.j2",
}
TEMPLATE_NAMES: tuple[str, ...] = tuple(TEMPLATE_FILES)


def default_template_dir() -> Path:
    return resource_root() / "configs" / "templates"


@dataclass(frozen=True, slots=True)
class TemplateProblem:
    """A user template that failed: where, and why."""

    slot: str
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"template {self.slot} ({where}): {self.message}; the shipped template was used"


def _load(path_text: str) -> tuple[str, str, Callable[[], bool]]:
    path = Path(path_text)
    source = path.read_text(encoding="utf-8")
    mtime = path.stat().st_mtime
    return source, str(path), lambda: path.is_file() and path.stat().st_mtime == mtime


def _environment(html: bool) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FunctionLoader(_load),
        autoescape=html,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["or_dash"] = lambda value: "-" if value in (None, "", [], ()) else value
    return env


def _error_line(exc: BaseException, path: str) -> int | None:
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path:
            line = frame.lineno
    return line


class TemplateRenderer:
    """Renders the template slots; ``overrides`` maps slot names to user template paths."""

    def __init__(
        self,
        overrides: Mapping[str, str | Path | None] | None = None,
        *,
        default_dir: Path | None = None,
        on_problem: Callable[[TemplateProblem], None] | None = None,
    ) -> None:
        self.default_dir = default_dir or default_template_dir()
        self.overrides = {k: str(v) for k, v in (overrides or {}).items() if v}
        unknown = set(self.overrides) - set(TEMPLATE_FILES)
        if unknown:
            raise ValueError(f"unknown template slots {sorted(unknown)}; known: {', '.join(TEMPLATE_NAMES)}")
        for slot in TEMPLATE_NAMES:
            default = self.default_dir / TEMPLATE_FILES[slot]
            if not default.is_file():
                raise FileNotFoundError(f"shipped template {slot} missing: {default}")
        self._text = _environment(html=False)
        self._html = _environment(html=True)
        self._on_problem = on_problem

    def _env(self, slot: str) -> ImmutableSandboxedEnvironment:
        return self._html if slot.endswith("_html") else self._text

    def render(self, slot: str, context: Mapping[str, Any]) -> tuple[str, TemplateProblem | None]:
        """The rendered slot, and the problem of the user template if it failed (then
        the text is the shipped template's)."""
        if slot not in TEMPLATE_FILES:
            raise KeyError(f"unknown template slot {slot!r}")
        env = self._env(slot)
        problem = None
        user_path = self.overrides.get(slot)
        if user_path is not None:
            try:
                return env.get_template(user_path).render(context).strip(), None
            except (TemplateError, OSError, UnicodeDecodeError) as exc:
                problem = TemplateProblem(slot, user_path, _error_line(exc, user_path), _message(exc))
                log.warning("%s", problem)
                if self._on_problem is not None:
                    self._on_problem(problem)
        default = str(self.default_dir / TEMPLATE_FILES[slot])
        return env.get_template(default).render(context).strip(), problem


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {text}"
