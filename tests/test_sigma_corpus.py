"""The SigmaHQ corpus (SOC_DATASETS/sigma): nothing crashes the loader; >= 99% compiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from detectors.sigma import SigmaDetector
from detectors.sigma.loader import iter_rule_files

DATASETS = Path(os.environ.get("SOC_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets"))
SIGMA = DATASETS / "sigma"
CORPUS_DIRS = [
    "rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance", "rules-placeholder",
]

pytestmark = pytest.mark.skipif(
    not (SIGMA / "rules").is_dir(), reason=f"SigmaHQ corpus not found at {SIGMA} (set SOC_DATASETS)"
)


@pytest.fixture(scope="module")
def corpus() -> SigmaDetector:
    return SigmaDetector([SIGMA / d for d in CORPUS_DIRS], config={"unmapped_logsource": "none"})


def test_every_corpus_file_loads_or_is_reported(corpus: SigmaDetector) -> None:
    files = list(iter_rule_files([SIGMA / d for d in CORPUS_DIRS]))
    stats = corpus.stats
    # every file gave at least one rule or one error: nothing vanished, nothing raised
    failed_files = {e.path for e in corpus.errors}
    loaded_files = {r.info.source_path for r in corpus.rules + corpus.inactive_rules}
    assert {str(f) for f in files} <= failed_files | loaded_files
    for error in corpus.errors:
        assert error.path and error.reason
    total = stats["rules_loaded"] + sum(1 for e in corpus.errors if e.stage == "load")
    rate = stats["rules_compiled"] / total
    print(f"\nSigmaHQ corpus: {stats['rules_compiled']}/{total} rules compiled ({rate:.2%}); "
          f"{stats['rules_failed']} failed; {len(files)} files")
    assert rate >= 0.99


def test_unsupported_rules_fail_with_a_clear_reason() -> None:
    if not (SIGMA / "unsupported").is_dir():
        pytest.skip(f"{SIGMA / 'unsupported'} not found")
    det = SigmaDetector([SIGMA / "unsupported"], config={})
    pipe = [e for e in det.errors if "pipe syntax" in e.reason]
    assert len(pipe) >= 44  # the legacy `| count()` / `| sum()` aggregations
    for error in det.errors:
        assert error.path.endswith(".yml")
        assert error.rule_id
        assert error.reason
    print(f"\nunsupported/: {det.stats['rules_compiled']} compiled, {len(det.errors)} reported errors")
