"""The fast paths change nothing: the SigmaHQ corpus over the shared Windows samples gives
the same (rule, event) matches as the reference (every rule of the event's log sources,
:meth:`SigmaDetector.rules_for`, evaluated with its compiled matcher: no event code index,
no literal prefilter), and :meth:`SigmaDetector.candidates` never leaves out a matching rule.

Besides the parsed samples, variants exercise the index fallbacks: ``event.code`` as an
int, with a leading zero, with spaces, as a list, missing; and flattened (dotted-key) events.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from collectors.inputs.readers import FileReader
from detectors.sigma import SigmaDetector
from detectors.sigma.engine import load_config
from soc.event import Event, flatten
from soc.pipeline.processor import BatchResult, ParserSet, Processor

CORPUS_DIRS = [
    "rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder",
]


def _samples(windows: Path) -> list[Event]:
    files = sorted(
        p for p in windows.rglob("*") if p.suffix in (".evtx", ".json") and ".golden" not in p.name
    )
    records = [r for f in files for r in FileReader(f).records()]
    result = BatchResult()
    Processor(ParserSet(timezone="UTC")).parse(records, result)
    return result.events


def _variants(events: list[Event]) -> list[Event]:
    """Copies with unusual ``event.code`` shapes and flattened keys (every 7th event)."""
    out: list[Event] = []
    for i, event in enumerate(events[::7]):
        code = (event.get("event") or {}).get("code")
        if code is None:
            continue
        as_int = int(code) if str(code).isdigit() else code
        shapes: list[Any] = [as_int, f"0{code}", f" {code} ", [code], None]
        e = copy.deepcopy(event)
        shape = shapes[i % len(shapes)]
        if shape is None:
            e["event"].pop("code")
        else:
            e["event"]["code"] = shape
        out.append(e)
        if i % 3 == 0:
            out.append(dict(flatten(event)))
    return out


@pytest.fixture(scope="module")
def corpus(datasets: Path) -> SigmaDetector:
    return SigmaDetector([datasets / "sigma" / d for d in CORPUS_DIRS], config=load_config())


def _reference(det: SigmaDetector, events: list[Event]) -> set[tuple[str, int]]:
    """Every rule of each event's log sources, run in full with its compiled matcher."""
    return {
        (cr.info.id, i)
        for i, event in enumerate(events)
        for cr in det.rules_for(event)
        if cr.output and cr.match(event)
    }


def _observed(det: SigmaDetector, events: list[Event]) -> set[tuple[str, int]]:
    return {
        (m.rule.id, i) for i, e in enumerate(events) for m in det.observe(e) if m.rule.type == "sigma"
    }


def _candidate_matches(det: SigmaDetector, events: list[Event]) -> set[tuple[str, int]]:
    return {
        (cr.info.id, i)
        for i, event in enumerate(events)
        for cr in det.candidates(event)
        if cr.output and cr.match(event)
    }


def test_corpus_matches_equal_reference_matcher(corpus: SigmaDetector, datasets: Path) -> None:
    samples = _samples(datasets / "logs" / "endpoint" / "windows")
    events = samples + _variants(samples)
    observed = _observed(corpus, events)
    reference = _reference(corpus, events)
    assert len(reference) > 300  # the samples do trigger many rules
    assert observed == reference
    assert _candidate_matches(corpus, events) == reference
    print(f"\nparity: {len(events)} events, {len(observed)} (rule, event) matches")
