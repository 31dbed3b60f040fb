"""Compiler unit tests: every supported modifier and condition form, positive and negative."""

from __future__ import annotations

from typing import Any

import pytest
from sigma.rule import SigmaRule

from detectors.sigma.compiler import CompileError, compile_rule
from detectors.sigma.fieldmap import FieldMap

SSH_FAIL = {
    "@timestamp": "2026-11-27T10:00:01.000Z",
    "message": "Failed password for root from 203.0.113.7 port 41022 ssh2",
    "event": {"category": ["authentication"], "outcome": "failure", "dataset": "system.auth"},
    "system": {"auth": {"ssh": {"event": "Failed", "method": "password"}}},
    "user": {"name": "root"},
    "source": {"ip": "203.0.113.7", "port": 41022},
    "destination": {"port": 22},
    "process": {"name": "sshd", "pid": 1234, "executable": "/usr/sbin/sshd"},
    "host": {"hostname": "web01"},
}


def matcher(detection: dict[str, Any], fields: dict[str, Any] | None = None):
    rule = SigmaRule.from_dict(
        {"title": "t", "id": "5e0bd1d4-5d43-4b3b-9b8a-111111111111",
         "logsource": {"product": "linux"}, "detection": detection}
    )
    return compile_rule(rule, FieldMap(fields))


def check(detection: dict[str, Any], hit: dict[str, Any], miss: dict[str, Any]) -> None:
    m = matcher(detection)
    assert m(hit) is True
    assert m(miss) is False


def with_(path: str, value: Any) -> dict[str, Any]:
    import copy

    from soc.event import set_field

    e = copy.deepcopy(SSH_FAIL)
    set_field(e, path, value)
    return e


def test_plain_value_is_case_insensitive_equality() -> None:
    check({"s": {"process.name": "SSHD"}, "condition": "s"}, SSH_FAIL, with_("process.name", "sshd2"))


def test_wildcards_star_and_question_mark() -> None:
    check({"s": {"process.executable": "/usr/*/ss?d"}, "condition": "s"},
          SSH_FAIL, with_("process.executable", "/usr/sbin/sshdd"))


def test_escaped_wildcard_is_literal() -> None:
    check({"s": {"message": r"a\*b"}, "condition": "s"}, with_("message", "a*b"), with_("message", "axxb"))


def test_contains_startswith_endswith() -> None:
    check({"s": {"message|contains": "FOR ROOT"}, "condition": "s"}, SSH_FAIL, with_("message", "for admin"))
    check({"s": {"message|startswith": "failed"}, "condition": "s"}, SSH_FAIL, with_("message", "x Failed"))
    check({"s": {"message|endswith": "SSH2"}, "condition": "s"}, SSH_FAIL, with_("message", "ssh2 x"))


def test_contains_all() -> None:
    check({"s": {"message|contains|all": ["failed", "root", "port"]}, "condition": "s"},
          SSH_FAIL, with_("message", "Failed password for admin port 1"))


def test_value_list_is_or() -> None:
    check({"s": {"user.name": ["admin", "root"]}, "condition": "s"}, SSH_FAIL, with_("user.name", "bob"))
    check({"s": {"message|endswith": ["x", "ssh2"]}, "condition": "s"}, SSH_FAIL, with_("message", "y"))


def test_cased_modifier_is_case_sensitive() -> None:
    check({"s": {"system.auth.ssh.event|cased": "Failed"}, "condition": "s"},
          SSH_FAIL, with_("system.auth.ssh.event", "failed"))
    check({"s": {"message|contains|cased": "Failed"}, "condition": "s"},
          SSH_FAIL, with_("message", "failed x"))


def test_regex_and_flags() -> None:
    check({"s": {"message|re": r"^Failed \w+ for (root|admin) "}, "condition": "s"},
          SSH_FAIL, with_("message", "failed password for root "))  # re is case-sensitive
    check({"s": {"message|re|i": r"^failed PASSWORD"}, "condition": "s"},
          SSH_FAIL, with_("message", "x failed"))
    check({"s": {"message|re|m": r"^second$"}, "condition": "s"},
          with_("message", "first\nsecond\nthird"), with_("message", "first second"))
    check({"s": {"message|re|s": r"first.second"}, "condition": "s"},
          with_("message", "first\nsecond"), with_("message", "first\n\nthird"))


def test_cidr_ipv4_and_ipv6() -> None:
    check({"s": {"source.ip|cidr": "203.0.113.0/24"}, "condition": "s"},
          SSH_FAIL, with_("source.ip", "203.0.114.7"))
    check({"s": {"source.ip|cidr": "2001:db8::/32"}, "condition": "s"},
          with_("source.ip", "2001:db8::1"), with_("source.ip", "2001:db9::1"))
    m = matcher({"s": {"source.ip|cidr": "10.0.0.0/8"}, "condition": "s"})
    assert m(with_("source.ip", "not-an-ip")) is False


def test_numbers_and_comparisons() -> None:
    check({"s": {"source.port": 41022}, "condition": "s"}, SSH_FAIL, with_("source.port", 41023))
    check({"s": {"source.port": 41022}, "condition": "s"},
          with_("source.port", "41022"), with_("source.port", "x"))
    check({"s": {"source.port|gt": 1024}, "condition": "s"}, SSH_FAIL, with_("source.port", 1024))
    check({"s": {"source.port|gte": 41022}, "condition": "s"}, SSH_FAIL, with_("source.port", 41021))
    check({"s": {"source.port|lt": 50000}, "condition": "s"}, SSH_FAIL, with_("source.port", 50000))
    check({"s": {"source.port|lte": 41022}, "condition": "s"}, SSH_FAIL, with_("source.port", 41023))


def test_null_matches_missing_or_empty() -> None:
    check({"s": {"user.domain": None}, "condition": "s"}, SSH_FAIL, with_("user.domain", "CORP"))
    assert matcher({"s": {"user.domain": None}, "condition": "s"})(with_("user.domain", "")) is True


def test_exists() -> None:
    check({"s": {"source.ip|exists": True}, "condition": "s"}, SSH_FAIL, with_("source", {}))
    check({"s": {"user.domain|exists": False}, "condition": "s"}, SSH_FAIL, with_("user.domain", "CORP"))


def test_fieldref() -> None:
    check({"s": {"host.hostname|fieldref": "user.name"}, "condition": "s"},
          with_("host.hostname", "ROOT"), SSH_FAIL)


def test_keyword_search_over_message_and_original() -> None:
    check({"keywords": ["Failed password for invalid user", "Failed password"], "condition": "keywords"},
          SSH_FAIL, with_("message", "Accepted password"))
    no_msg = with_("message", "other")
    no_msg["event"]["original"] = "<13>Nov 27 sshd[1]: Failed password for root"
    assert matcher({"keywords": ["failed PASSWORD"], "condition": "keywords"})(no_msg) is True


def test_list_valued_event_field_matches_any_element() -> None:
    check({"s": {"event.category": "authentication"}, "condition": "s"},
          SSH_FAIL, with_("event.category", ["iam"]))


def test_base64_windash_expanded_by_pysigma() -> None:
    check({"s": {"message|base64": "root"}, "condition": "s"}, with_("message", "cm9vdA=="), SSH_FAIL)
    check({"s": {"message|windash|contains": " -enc "}, "condition": "s"},
          with_("message", "powershell /enc abc"), SSH_FAIL)


def test_and_or_not_and_selectors() -> None:
    det = {
        "sel_a": {"process.name": "sshd"},
        "sel_b": {"user.name": "root"},
        "filter": {"source.ip|cidr": "10.0.0.0/8"},
        "condition": "all of sel_* and not filter",
    }
    check(det, SSH_FAIL, with_("source.ip", "10.1.2.3"))
    neither = with_("user.name", "bob")
    neither["process"]["name"] = "cron"
    check({**det, "condition": "1 of sel_* and not filter"}, with_("user.name", "bob"), neither)
    check({"a": {"user.name": "x"}, "b": {"process.name": "sshd"}, "condition": "a or b"},
          SSH_FAIL, with_("process.name", "cron"))
    check({"a": {"user.name": "root"}, "b": {"process.name": "x"}, "condition": "a and (b or not b)"},
          SSH_FAIL, with_("user.name", "bob"))
    check({"a": {"user.name": "root"}, "condition": "all of them"}, SSH_FAIL, with_("user.name", "bob"))


def test_list_of_maps_is_or_and_map_is_and() -> None:
    det = {"s": [{"user.name": "root", "source.port": 1}, {"process.name": "sshd"}], "condition": "s"}
    check(det, SSH_FAIL, with_("process.name", "cron"))


def test_field_mapping_translates_sigma_names() -> None:
    m = matcher({"s": {"SourceIp": "203.0.113.7"}, "condition": "s"}, {"SourceIp": "source.ip"})
    assert m(SSH_FAIL) is True
    assert m(with_("source.ip", "1.1.1.1")) is False


def test_flattened_dotted_keys_are_read() -> None:
    assert matcher({"s": {"source.ip": "1.2.3.4"}, "condition": "s"})({"source.ip": "1.2.3.4"}) is True


def test_unresolved_placeholder_is_a_compile_error_naming_the_rule() -> None:
    with pytest.raises(CompileError) as err:
        matcher({"s": {"user.name|expand": "%admins%"}, "condition": "s"})
    assert err.value.rule_id == "5e0bd1d4-5d43-4b3b-9b8a-111111111111"
    assert "placeholder" in err.value.reason


def test_deprecated_aggregation_is_a_compile_error() -> None:
    with pytest.raises(CompileError, match="pipe syntax"):
        matcher({"s": {"user.name": "x"}, "condition": "s | count() > 5"})
