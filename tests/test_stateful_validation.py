"""Stateful rule validation: every error names the file, the line and the key; one bad
rule never stops the others; ``soc rules check`` reports them."""

from __future__ import annotations

import json
from pathlib import Path

from detectors.stateful import load_rules
from tests.helpers_engine import REPO, run_soc
from tests.helpers_stateful import write_rule

GOOD = """name: good
id: 6a1ee42d-1b0e-43e9-a0b9-3127c8dba3aa
type: frequency
filter: 'event.outcome:failure'
query_key: source.ip
timeframe: {minutes: 5}
num_events: 3
"""


def errors_of(tmp_path: Path, text: str) -> list[tuple[str | None, int | None, str]]:
    path = write_rule(tmp_path / "rules", "bad.yml", text)
    rules, errors = load_rules([path])
    assert rules == []
    assert errors and all(e.path == str(path) for e in errors)
    return [(e.key, e.line, e.reason) for e in errors]


def test_the_shipped_rules_load() -> None:
    rules, errors = load_rules([REPO / "rules" / "stateful"])
    assert [str(e) for e in errors] == []
    assert {r.type for r in rules} == {
        "frequency", "cardinality", "flatline", "spike", "new_term", "metric_aggregation", "blacklist",
    }  # fmt: skip
    assert all(r.info.tags and r.info.severity in ("low", "medium", "high", "critical") for r in rules)


def test_missing_and_bad_keys_are_each_named_with_their_line(tmp_path: Path) -> None:
    text = """name: bad
id: 0812403a-810b-40a0-9171-46f9b3b7187e
type: frequency
query_key: source.ip
timeframe: {minutes: five}
severity: urgent
num_event: 3
"""
    errs = errors_of(tmp_path, text)
    by_key = {k: (line, reason) for k, line, reason in errs}
    assert by_key["timeframe"][0] == 5 and "number" in by_key["timeframe"][1]
    assert by_key["severity"][0] == 6 and "one of" in by_key["severity"][1]
    assert by_key["num_event"][0] == 7 and "unknown key" in by_key["num_event"][1]
    assert "required" in by_key["num_events"][1]


def test_error_text_names_file_line_and_key(tmp_path: Path) -> None:
    path = write_rule(tmp_path / "rules", "x.yml", GOOD.replace("num_events: 3", "num_events: -2"))
    _, errors = load_rules([path])
    assert [str(e) for e in errors] == [f"{path}:7: num_events: must be an integer >= 1, not -2"]


def test_unknown_type_bad_filter_and_bad_sigma_detection(tmp_path: Path) -> None:
    errs = errors_of(tmp_path, GOOD.replace("type: frequency", "type: frequencey"))
    assert errs[0][0] == "type" and "unknown rule type 'frequencey'" in errs[0][2]
    errs = errors_of(tmp_path, GOOD.replace("'event.outcome:failure'", "'event.outcome:(a OR'"))
    assert errs[0][0] == "filter" and "query" in errs[0][2]
    errs = errors_of(
        tmp_path,
        GOOD.replace(
            "filter: 'event.outcome:failure'",
            "filter:\n  detection:\n    sel: {event.outcome|contians: x}\n    condition: sel",
        ),
    )
    assert errs[0][0] == "filter.detection" and "contians" in errs[0][2]
    errs = errors_of(tmp_path, GOOD.replace("id: 6a1ee42d-1b0e-43e9-a0b9-3127c8dba3aa", "id: not-a-uuid"))
    assert errs[0][:2] == ("id", 2)


def test_type_specific_checks(tmp_path: Path) -> None:
    base = "name: x\nid: 0812403a-810b-40a0-9171-46f9b3b7187e\n"
    cases = {
        "type: cardinality\ntimeframe: {minutes: 1}\ncardinality_field: user.name\n": "max_cardinality",
        "type: spike\ntimeframe: {minutes: 1}\nspike_height: 2\nspike_type: sideways\n": "spike_type",
        "type: metric_aggregation\ntimeframe: {hours: 1}\nmetric_agg_key: b\nmetric_agg_type: median\n"
        "max_threshold: 1\n": "metric_agg_type",
        "type: change\ncompare_key: a\n": "query_key",
        "type: blacklist\ncompare_key: a\nblacklist: ['!file nowhere.txt']\n": "blacklist",
        "type: new_term\n": "fields",
        "type: flatline\nthreshold: 1\n": "timeframe",
        "type: frequency\nnum_events: 2\ntimeframe: {minutes: 1}\nrealert: {minutes: 5}\n"
        "exponential_realert: {minutes: 1}\n": "exponential_realert",
        "type: percentage_match\ntimeframe: {minutes: 1}\nmatch_bucket_filter: 'a:b'\n": "min_percentage",
    }
    for body, key in cases.items():
        keys = [k for k, _, _ in errors_of(tmp_path, base + body)]
        assert key in keys, (body, keys)


def test_a_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "stateful"
    write_rule(folder, "a_broken_yaml.yml", "name: [unclosed\n")
    write_rule(folder, "b_good.yml", GOOD)
    write_rule(folder, "c_not_a_mapping.yml", "- 1\n- 2\n")
    write_rule(folder, "d_dup.yml", GOOD.replace("name: good", "name: dup"))
    rules, errors = load_rules([folder])
    assert [r.info.title for r in rules] == ["good"]
    assert [(Path(e.path).name, e.key) for e in errors] == [
        ("a_broken_yaml.yml", None),
        ("c_not_a_mapping.yml", None),
        ("d_dup.yml", "id"),
    ]
    assert errors[0].line == 2 and "invalid YAML" in errors[0].reason


def test_soc_rules_check_reports_stateful_errors(tmp_path: Path) -> None:
    folder = tmp_path / "rules" / "stateful"
    write_rule(folder, "good.yml", GOOD)
    bad = write_rule(
        folder,
        "bad.yml",
        GOOD.replace("num_events: 3", "num_events: many").replace(
            "6a1ee42d-1b0e-43e9-a0b9-3127c8dba3aa", "f32a9b01-7d84-4415-a4e8-5ed19b07aa36"
        ),
    )
    proc = run_soc(
        ["rules", "check", str(tmp_path / "rules"), "--json"], tmp_path / "data", check=False, timeout=120
    )
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["stateful"]["loaded"] == 1 and out["stateful"]["files"] == 2
    assert out["stateful"]["errors"][0]["file"] == str(bad)
    assert out["stateful"]["errors"][0]["key"] == "num_events" and out["stateful"]["errors"][0]["line"] == 7
    assert out["files"] == 0  # the Sigma check does not read rules/stateful
    ok = run_soc(["rules", "check", str(REPO / "rules")], tmp_path / "data", timeout=120)
    assert "stateful: files=8 loaded=8 failed=0 errors=0" in ok.stdout
