"""The fast paths change nothing: the SigmaHQ corpus over the shared Windows samples gives
the same (rule, event) matches as the reference matcher (every rule of the event's log
sources evaluated by the pre-optimisation compiler, ``tests/helpers_sigma_reference.py``).

Besides the parsed samples, variants exercise the index fallbacks: ``event.code`` as an
int, with a leading zero, with spaces, as a list, missing; and flattened (dotted-key) events.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from collectors.inputs.readers import FileReader
from detectors.sigma import SigmaDetector
from detectors.sigma.compiler import CompileError
from detectors.sigma.engine import load_config
from soc.event import Event, flatten
from soc.pipeline.processor import BatchResult, ParserSet, Processor
from tests.helpers_sigma_reference import compile_rule as reference_compile

DATASETS = Path(os.environ.get("SOC_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
SIGMA = DATASETS / "sigma"
WINDOWS = DATASETS / "logs" / "endpoint" / "windows"
CORPUS_DIRS = [
    "rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder",
]

pytestmark = pytest.mark.skipif(
    not (SIGMA / "rules").is_dir() or not WINDOWS.is_dir(),
    reason=f"SigmaHQ corpus or Windows samples not found under {DATASETS} (set SOC_DATASETS)",
)


def _samples() -> list[Event]:
    files = sorted(
        p for p in WINDOWS.rglob("*") if p.suffix in (".evtx", ".json") and ".golden" not in p.name
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
def corpus() -> SigmaDetector:
    return SigmaDetector([SIGMA / d for d in CORPUS_DIRS], config=load_config())


def _reference(det: SigmaDetector, events: list[Event]) -> set[tuple[str, int]]:
    matchers: dict[str, Any] = {}
    out: set[tuple[str, int]] = set()
    for i, event in enumerate(events):
        for bucket in det._state.index.dispatch(event):
            for cr in bucket.items:
                if not cr.output:
                    continue
                m = matchers.get(cr.key)
                if m is None:
                    rule = cr.rule
                    assert rule is not None
                    fields = det.fieldmap_for(rule.logsource.product, rule.logsource.category)
                    try:
                        m = reference_compile(rule, fields, det._keyword_fields, det._placeholders)
                    except CompileError:  # pragma: no cover - compiled by the product, so by the copy
                        raise
                    matchers[cr.key] = m
                if m(event):
                    out.add((cr.info.id, i))
    return out


def _observed(det: SigmaDetector, events: list[Event]) -> set[tuple[str, int]]:
    return {
        (m.rule.id, i) for i, e in enumerate(events) for m in det.observe(e) if m.rule.type == "sigma"
    }


def test_corpus_matches_equal_reference_matcher(corpus: SigmaDetector) -> None:
    samples = _samples()
    events = samples + _variants(samples)
    observed = _observed(corpus, events)
    reference = _reference(corpus, events)
    assert len(reference) > 300  # the samples do trigger many rules
    assert observed == reference
    print(f"\nparity: {len(events)} events, {len(observed)} (rule, event) matches")
