"""What every parser is: a pure function from one raw record to ECS events.

A parser module defines one class with:

* ``name``: its registry key and the ``--format`` name (``linux_auth``);
* ``detect(raw: bytes) -> bool``: a cheap format detector used by ``--format auto``;
* ``parse(record: RawRecord) -> list[Event]``: zero or more ECS events, no I/O.

It raises :class:`ParseError` when it cannot make an event of the record; the
pipeline then sends the record to the dead-letter store with the reason. It sets
only what the record says (``@timestamp``, ``message``, ``event.*``, ``source.*``,
``user.*``, ``process.*`` ...). The pipeline adds what every event carries
(``event.id``, ``event.ingested``, ``event.original``, ``log.offset``,
``log.file.path``, ``observer.*``, ``ecs.version``): see ``soc.pipeline.normalize``.
"""

from __future__ import annotations

from typing import Protocol

from soc.event import Event, RawRecord


class ParseError(Exception):
    """A record that a parser cannot turn into an event.

    ``reason`` says what was wrong; ``field`` names the part of the record
    (``timestamp``, ``header``, ``message``) when known.
    """

    def __init__(self, reason: str, *, parser: str = "", field: str | None = None) -> None:
        self.reason = reason
        self.parser = parser
        self.field = field
        where = f" (field {field})" if field else ""
        super().__init__(f"{parser or 'parser'}: {reason}{where}")


class Parser(Protocol):
    name: str

    def detect(self, raw: bytes) -> bool: ...

    def parse(self, record: RawRecord) -> list[Event]: ...
