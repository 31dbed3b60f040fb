"""The matching indexes: event-code sets of rules, regex literals, typed prefilter atoms.

Each index may only narrow the rules tried, never drop a match: these tests pin the
necessary conditions they rely on; tests/test_sigma_parity.py checks the whole corpus.
"""

from __future__ import annotations

import re

import pytest
from sigma.collection import SigmaCollection

from detectors.sigma.engine import SigmaDetector, load_config
from detectors.sigma.eventcode import canonical_code, rule_codes
from detectors.sigma.fieldmap import FieldMap
from detectors.sigma.prefilter import Prefilter, rule_need
from detectors.sigma.regexneed import required_literals

CFG = {**load_config(), "cache_dir": ""}
WINDOWS_FIELDS = FieldMap({"EventID": "event.code"}, "winlog.event_data.")


def _rule(detection: str, logsource: str = "{product: windows, service: security}") -> object:
    head = "title: t\nid: 11111111-0000-4000-8000-0000000000aa\n"
    text = f"{head}logsource: {logsource}\ndetection:\n{detection}"
    return SigmaCollection.from_yaml(text).rules[0]


@pytest.mark.parametrize(
    ("value", "code"),
    [("4624", "4624"), (4624, "4624"), ("0", "0"), ("04624", None), (" 4624", None), ("4624.0", None),
     (4624.0, None), (True, None), (["4624"], None), (None, None), ("٤٦٢٤", None), (-1, None)],
)
def test_canonical_code_only_for_exact_digit_strings(value: object, code: str | None) -> None:
    assert canonical_code(value) == code


def test_rule_codes_follow_and_or_not() -> None:
    and_rule = _rule("  sel: {EventID: [4624, '4625'], LogonType: 3}\n  condition: sel")
    assert rule_codes(and_rule, WINDOWS_FIELDS) == frozenset({"4624", "4625"})
    or_rule = _rule("  a: {EventID: 4720}\n  b: {EventID: 4738}\n  condition: a or b")
    assert rule_codes(or_rule, WINDOWS_FIELDS) == frozenset({"4720", "4738"})
    open_or = _rule("  a: {EventID: 4720}\n  b: {TargetUserName: x}\n  condition: a or b")
    assert rule_codes(open_or, WINDOWS_FIELDS) is None
    negated = _rule("  a: {EventID: 4720}\n  condition: not a")
    assert rule_codes(negated, WINDOWS_FIELDS) is None
    wildcard = _rule("  a: {EventID: '46*'}\n  condition: a")
    assert rule_codes(wildcard, WINDOWS_FIELDS) is None
    both = _rule("  a: {EventID: 4720}\n  b: {EventID: 4738}\n  condition: a and b")
    assert rule_codes(both, WINDOWS_FIELDS) == frozenset()  # can never match a canonical code


def test_event_code_index_keeps_non_canonical_codes_matching() -> None:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "r.yml").write_text(
            "title: Logon\nid: 11111111-0000-4000-8000-0000000000ab\n"
            "logsource: {product: windows, service: security}\n"
            "detection:\n  sel: {EventID: 4624}\n  condition: sel\n",
            encoding="utf-8",
        )
        det = SigmaDetector([Path(tmp)], config=CFG)
    for code, hit in [("4624", True), (4624, True), ("04624", True), (" 4624 ", True), ("4625", False)]:
        event = {"winlog": {"channel": "Security"}, "event": {"code": code}}
        assert bool(det.observe(event)) is hit, code


@pytest.mark.parametrize(
    ("pattern", "flags", "literals"),
    [
        (r"\w+`(?:\w+|-|.)`[\w+|\s]", 0, {"`"}),
        (r"abc|de", 0, {"abc", "de"}),
        (r"(abc)?x", 0, {"x"}),
        (r"(foo|)bar", 0, {"bar"}),
        (r"x{0,3}yz", 0, {"yz"}),
        (r"Mimikatz", 0, {"mimikatz"}),
        (r"Mimikatz", re.IGNORECASE, {"katz"}),  # i and s stop a run under IGNORECASE
        (r"(?i)sekurlsa", 0, {"ekurl"}),
        (r"a*", 0, None),
        (r"(?=abc)", 0, None),
        (r"[ab]c", 0, {"c"}),
        (r"[ab]", 0, None),
        (r"\d+", 0, None),
        (r"(", 0, None),
    ],
)
def test_required_literals(pattern: str, flags: int, literals: set[str] | None) -> None:
    found = required_literals(pattern, flags)
    assert (None if found is None else set(found)) == literals


def test_required_literals_are_necessary_under_ignorecase_unicode() -> None:
    # Python's IGNORECASE matches 's' with 'ſ' and 'i' with 'ı'; str.lower keeps them apart
    for pattern, text in [("(?i)ks", "Kſ"), ("(?i)pin", "pın"), ("(?i)abc", "ABC")]:
        assert re.search(pattern, text)
        lits = required_literals(pattern)
        assert lits is None or any(lit in text.lower() for lit in lits)


def test_prefilter_atoms_are_typed() -> None:
    rule = _rule(
        "  img: {Image|endswith: '\\\\rundll32.exe'}\n  cmd: {CommandLine|contains: comsvcs}\n"
        "  ofn: {OriginalFileName: RUNDLL32.EXE}\n  condition: (img or ofn) and cmd",
        "{product: windows, category: process_creation}",
    )
    need = rule_need(rule, WINDOWS_FIELDS, ())
    assert need is not None and len(need) == 2  # two clauses, both must hold
    kinds = {(kind, lit) for clause in need for _, kind, lit in clause}
    assert kinds == {("end", "\\rundll32.exe"), ("eq", "rundll32.exe"), ("in", "comsvcs")}
    pf = Prefilter(["r"], [need])
    data = {"Image": "C:\\Windows\\System32\\rundll32.exe", "CommandLine": "x comsvcs.dll MiniDump"}
    assert pf.candidates({"winlog": {"event_data": data}}) == ["r"]
    # the suffix alone (contains, not endswith) or the command line alone do not pass
    for changed in ({"Image": "C:\\rundll32.exe.bak"}, {"CommandLine": "nothing"}):
        assert pf.candidates({"winlog": {"event_data": {**data, **changed}}}) == []


def test_literal_index_finds_exactly_the_literals_a_loop_finds() -> None:
    import random

    from detectors.sigma.prefilter import _Scanner

    rng = random.Random(7)
    alphabet = "abcdef0123456789\\-. =:/"
    words = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(400)}
    words |= {"🥻", "é\\x", "ab", "`"}
    table = {("in", w): {i} for i, w in enumerate(sorted(words))}
    scanner = _Scanner(table)
    index = {w: i for (_, w), (i,) in table.items()}
    for _ in range(300):
        parts = [rng.choice(sorted(words)) if rng.random() < 0.3 else rng.choice(alphabet) for _ in range(60)]
        text = "".join(parts)
        hits: set[int] = set()
        scanner.scan(text, hits)
        assert hits == {index[w] for w in words if w in text}
