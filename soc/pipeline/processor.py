"""The processing stage: raw records -> parsed, normalized, enriched events, plus the
detections they trigger and the records that failed (dead letters)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from collectors.parsers import detect_format, get_parser
from collectors.parsers.base import ParseError, Parser
from detectors.base import Match, StreamingDetector
from soc.event import Event, RawRecord, format_ts, utcnow
from soc.pipeline.deadletter import DeadLetter
from soc.pipeline.enrich import Enricher
from soc.pipeline.normalize import finish_event

log = logging.getLogger(__name__)


@dataclass(slots=True)
class BatchResult:
    events: list[Event] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    parsed_by: dict[str, int] = field(default_factory=dict)
    detector_errors: int = 0
    checkpoints: list[Any] | None = None  # detector state taken with this batch (see Engine)


class ParserSet:
    """Parser instances by name, built once; picks the parser of a record (forced by
    ``meta["format"]`` or detected from its bytes)."""

    def __init__(self, *, timezone: str, default_format: str | None = None) -> None:
        self._timezone = timezone
        self._default_format = default_format
        self._parsers: dict[str, Parser] = {}

    def parser(self, name: str) -> Parser:
        parser = self._parsers.get(name)
        if parser is None:
            parser = get_parser(name, timezone=self._timezone)
            self._parsers[name] = parser
        return parser

    def choose(self, record: RawRecord) -> str | None:
        return record.meta.get("format") or self._default_format or detect_format(record.raw)


class Processor:
    """Parse, normalize, enrich and detect one batch of records (pure CPU; no I/O)."""

    def __init__(
        self,
        parsers: ParserSet,
        *,
        enrichers: Sequence[Enricher] = (),
        detectors: Sequence[StreamingDetector] = (),
        keep_original: bool = True,
    ) -> None:
        self.parsers = parsers
        self.enrichers = list(enrichers)
        self.detectors = list(detectors)
        self.keep_original = keep_original

    def parse(self, records: Sequence[RawRecord], result: BatchResult) -> None:
        ingested = format_ts(utcnow())
        for record in records:
            name = self.parsers.choose(record)
            if name is None:
                result.dead_letters.append(
                    DeadLetter(record, "parse", "auto", "no parser recognised the record's format")
                )
                continue
            try:
                events = self.parsers.parser(name).parse(record)
            except ParseError as exc:
                result.dead_letters.append(DeadLetter(record, "parse", name, exc.reason, exc.field))
                continue
            except ValueError as exc:  # an unknown forced format
                result.dead_letters.append(DeadLetter(record, "parse", name, str(exc)))
                continue
            except Exception as exc:  # a parser bug must not lose the record
                log.exception("parser %s failed on %s@%s", name, record.source, record.position)
                result.dead_letters.append(
                    DeadLetter(record, "parse", name, f"parser error: {type(exc).__name__}: {exc}")
                )
                continue
            for index, event in enumerate(events):
                finish_event(event, record, index, keep_original=self.keep_original, ingested=ingested)
                result.events.append(event)
            result.parsed_by[name] = result.parsed_by.get(name, 0) + len(events)

    def enrich_and_detect(self, result: BatchResult) -> None:
        for event in result.events:
            for enrich in self.enrichers:
                enrich(event)
            for detector in self.detectors:
                try:
                    result.matches.extend(detector.observe(event))
                except Exception:
                    result.detector_errors += 1
                    log.exception("detector %s failed on event %s", detector.name, event.get("event"))

    def process(self, records: Sequence[RawRecord]) -> BatchResult:
        result = BatchResult()
        self.parse(records, result)
        self.enrich_and_detect(result)
        return result

    def tick(self) -> list[Match]:
        matches: list[Match] = []
        now = utcnow()
        for detector in self.detectors:
            try:
                matches.extend(detector.tick(now))
            except Exception:
                log.exception("detector %s failed on tick", detector.name)
        return matches


def summarize(result: BatchResult) -> dict[str, Any]:
    return {
        "events": len(result.events),
        "dead_letters": len(result.dead_letters),
        "matches": len(result.matches),
    }
