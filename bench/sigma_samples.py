"""List the Sigma rules (full SigmaHQ corpus) that fire on each Windows attack sample.

Usage: .venv/bin/python bench/sigma_samples.py
Parses every EVTX/JSON file under SOC_DATASETS/logs/endpoint/windows with FileReader +
Processor (the `soc parse` path) and runs the corpus over the events.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from collectors.inputs.readers import FileReader  # noqa: E402
from detectors.sigma import SigmaDetector  # noqa: E402
from soc.pipeline.processor import BatchResult, ParserSet, Processor  # noqa: E402

DATASETS = Path(os.environ.get("SOC_DATASETS", ROOT.parent / "shared" / "datasets"))
CORPUS_DIRS = [
    "rules",
    "rules-emerging-threats",
    "rules-threat-hunting",
    "rules-compliance",
    "rules-placeholder",
]
WINDOWS = DATASETS / "logs" / "endpoint" / "windows"


def sample_files() -> list[Path]:
    return sorted(p for p in WINDOWS.rglob("*") if p.suffix in (".evtx", ".json") and ".golden" not in p.name)


def parse(path: Path) -> list[dict]:
    result = BatchResult()
    Processor(ParserSet(timezone="UTC")).parse(list(FileReader(path).records()), result)
    return result.events


def main() -> None:
    det = SigmaDetector([DATASETS / "sigma" / d for d in CORPUS_DIRS])
    for path in sample_files():
        events = parse(path)
        fired: Counter[str] = Counter()
        for e in events:
            for m in det.observe(e):
                fired[f"{m.rule.severity:<13} {m.rule.title} ({m.rule.id})"] += 1
        print(f"\n{path.relative_to(WINDOWS)}: {len(events)} events, {sum(fired.values())} matches")
        for name, n in sorted(fired.items()):
            print(f"    {n:>5} x {name}")


if __name__ == "__main__":
    main()
