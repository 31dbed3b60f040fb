"""The asset inventory: YAML and CSV loading with located errors, lookups (CIDR longest
prefix, host, domain, URL), system level = max of its parts, enrichment at ingest and
unknown assets flagged, stored and listed."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from soc.alerts import Actor
from soc.assets import (
    Asset,
    AssetEnricher,
    AssetError,
    AssetIndex,
    AssetStore,
    load_inventory_yaml,
    read_assets_csv,
)
from soc.assets.csv_import import parse_assets_csv
from soc.assets.yaml_loader import parse_inventory
from soc.audit import AuditLog
from soc.cli.main import main
from soc.pipeline.engine import DataDir
from soc.state import StateStore

REPO = Path(__file__).resolve().parents[1]

INVENTORY = {
    "agencies": [
        {
            "id": "so-tttt",
            "name": "Sở Thông tin và Truyền thông",
            "contacts": [{"name": "Trần Minh Khoa", "email": "khoa@example.vn", "phone": "0912"}],
            "isp": "VNPT",
            "systems": [
                {
                    "name": "Cổng thông tin",
                    "criticality": "high",
                    "assets": [
                        {"host": "web01", "security_level": 2},
                        {"ip": "10.10.1.0/24", "security_level": 4},
                        {"domain": "minhson.example.vn", "security_level": 1},
                        {"url": "https://dvc.minhson.example.vn/portal/", "security_level": 3},
                    ],
                }
            ],
            "assets": [{"ip": "10.10.0.0/16", "security_level": 1}, {"ip": "2001:db8::/32"}],
        }
    ]
}


def test_shipped_example_loads_and_system_level_is_max_of_parts() -> None:
    inventory = load_inventory_yaml(REPO / "configs" / "assets.yaml")
    assert {a.agency_id for a in inventory.assets} == {"so-tttt", "ubnd-tinh", "so-yte"}
    systems = {s["system"]: s["security_level"] for s in inventory.systems()}
    assert systems["Cổng thông tin điện tử tỉnh"] == 3  # parts 3, 2, 3, 3
    assert systems["Hệ thống thư điện tử công vụ"] == 2  # parts 2 and unclassified
    parts = parse_inventory(INVENTORY)
    assert parts.system_level("so-tttt", "Cổng thông tin") == 4
    web = next(a for a in parts.assets if a.value == "web01")
    assert web.contacts[0].name == "Trần Minh Khoa" and web.isp == "VNPT" and web.criticality == "high"


def test_yaml_errors_name_file_and_key_all_at_once(tmp_path: Path) -> None:
    path = tmp_path / "assets.yaml"
    path.write_text(
        """
agencies:
  - id: a1
    systems:
      - name: S
        assets:
          - {host: web01, security_level: 7}
          - {host: web02, ip: 10.0.0.1}
          - {ip: 10.0.0.300}
          - {host: db01, colour: red}
  - name: no id here
""",
        encoding="utf-8",
    )
    with pytest.raises(AssetError) as caught:
        load_inventory_yaml(path)
    text = str(caught.value)
    assert str(path) in text
    wheres = dict(caught.value.problems)
    assert "must be 1..5, got 7" in wheres["agencies[0].systems[0].assets[0].security_level"]
    assert "exactly one of" in wheres["agencies[0].systems[0].assets[1]"]
    assert "not an IP address" in wheres["agencies[0].systems[0].assets[2].ip"]
    assert "unknown key" in wheres["agencies[0].systems[0].assets[3].colour"]
    assert "required" in wheres["agencies[1].id"]


CSV_TEXT = (
    "agency_id,agency_name,system,kind,value,security_level,criticality,contact_name,contact_email\n"
    "so-yte,Sở Y tế,HIS,host,his-app01,3,high,Phạm Văn Nam,nam@example.vn\n"
    "so-yte,Sở Y tế,HIS,ip,10.30.0.0/16,7,high,,\n"
    "so-yte,Sở Y tế,HIS,printer,x,1,low,,\n"
    "so-yte,Sở Y tế,HIS,ip,10.30.5.0/24,2,urgent,,bad-email\n"
    ",Sở Y tế,HIS,domain,soyte.example.vn,2,low,,\n"
    "so-yte,Sở Y tế,HIS,domain,soyte.example.vn,2,low,,\n"
)


def test_csv_valid_rows_import_and_errors_name_line_and_column() -> None:
    result = parse_assets_csv(CSV_TEXT, "assets.csv")
    assert [a.value for a in result.assets] == ["his-app01", "soyte.example.vn"]
    assert result.rows == 6
    problems = dict(result.problems)
    assert problems["line 3, column 6 (security_level)"] == "must be 1..5, got '7'"
    assert "'printer' is not one of" in problems["line 4, column 4 (kind)"]
    assert "must be one of" in problems["line 5, column 7 (criticality)"]
    assert "not an email" in problems["line 5, column 9 (contact_email)"]
    assert problems["line 6, column 1 (agency_id)"] == "required, is empty"


def test_csv_with_unknown_or_missing_columns_is_refused_whole() -> None:
    with pytest.raises(AssetError) as caught:
        parse_assets_csv("agency,kind,value\nx,host,web\n", "a.csv")
    problems = dict(caught.value.problems)
    assert "unknown column 'agency'" in problems["line 1, column 1"]
    assert problems["line 1"] == "missing required column 'agency_id'"


def test_lookup_longest_prefix_host_domain_and_url() -> None:
    index = AssetIndex(parse_inventory(INVENTORY).assets)
    assert index.by_ip("10.10.1.77").asset.value == "10.10.1.0/24"  # type: ignore[union-attr]
    assert index.by_ip("10.10.9.1").asset.value == "10.10.0.0/16"  # type: ignore[union-attr]
    assert index.by_ip("10.11.0.1") is None and index.by_ip("not-an-ip") is None
    assert index.by_ip("2001:db8::5").asset.value == "2001:db8::/32"  # type: ignore[union-attr]
    assert index.by_host("WEB01.minhson.example.vn.").asset.value == "web01"  # type: ignore[union-attr]
    assert index.by_domain("mail.minhson.example.vn").asset.value == "minhson.example.vn"  # type: ignore[union-attr]
    assert index.by_domain("example.vn") is None
    assert index.by_url("dvc.minhson.example.vn", "/portal/login").asset.kind == "url"  # type: ignore[union-attr]
    assert index.by_url("dvc.minhson.example.vn", "/other") is None
    match = index.by_ip("10.10.1.5")
    assert match is not None and match.system_level == 4  # the system's level, max of its parts


def test_many_ranges_lookup_is_exact() -> None:
    assets = [Asset("ip", f"10.{i // 256}.{i % 256}.0/24", f"a{i}") for i in range(5000)]
    assets.append(Asset("ip", "10.0.0.0/8", "wide"))
    index = AssetIndex(assets)
    assert index.by_ip("10.3.17.200").asset.agency_id == f"a{3 * 256 + 17}"  # type: ignore[union-attr]
    assert index.by_ip("10.200.0.1").asset.agency_id == "wide"  # type: ignore[union-attr]


def test_enrichment_sets_agency_system_level_and_flags_unknown(tmp_path: Path) -> None:
    enricher = AssetEnricher(AssetIndex(parse_inventory(INVENTORY).assets), flag_unknown=True)
    known = {"@timestamp": "2026-12-01T01:00:00.000Z", "host": {"name": "web01"}}
    enricher(known)
    assert known["organization"] == {"id": "so-tttt", "name": "Sở Thông tin và Truyền thông"}
    assert known["soc"]["asset"] == {
        "kind": "host",
        "value": "web01",
        "system": "Cổng thông tin",
        "security_level": 4,
        "criticality": "high",
    }
    assert known["labels"] == {"security_level": "4"}
    by_dest = {"observer": {"ip": "198.51.100.1"}, "destination": {"ip": "10.10.1.9"}}
    enricher(by_dest)
    assert by_dest["organization"]["id"] == "so-tttt"
    stranger = {"@timestamp": "2026-12-01T02:00:00.000Z", "host": {"name": "laptop-17"}}
    enricher(stranger)
    enricher({"@timestamp": "2026-12-01T03:00:00.000Z", "host": {"name": "laptop-17"}})
    enricher({"@timestamp": "2026-12-01T03:00:00.000Z", "observer": {"ip": "192.0.2.7"}})
    assert stranger["labels"] == {"asset_unknown": "true"} and "organization" not in stranger
    state = StateStore(tmp_path / "state.db")
    store = AssetStore(state)
    enricher.flush_unknown(store)
    unknown = {(u.field, u.value): u for u in store.unknown()}
    assert unknown[("host.name", "laptop-17")].count == 2
    assert unknown[("host.name", "laptop-17")].last_seen == "2026-12-01T03:00:00.000Z"
    assert unknown[("observer.ip", "192.0.2.7")].count == 1
    state.close()


def test_cli_import_then_list_and_unknown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    csv_file = tmp_path / "assets.csv"
    csv_file.write_text(CSV_TEXT, encoding="utf-8")
    code = main(["assets", "import", str(csv_file), "--data-dir", str(data), "--json", "--as", "lan"])
    out = orjson.loads(capsys.readouterr().out)
    assert code == 1  # some rows were refused
    assert out["imported"] == 2 and len(out["errors"]) == 5
    assert {"where": "line 3, column 6 (security_level)", "reason": "must be 1..5, got '7'"} in out["errors"]
    assert main(["assets", "list", "--data-dir", str(data), "--agency", "so-yte", "--json"]) == 0
    listed = orjson.loads(capsys.readouterr().out)["assets"]
    assert {(a["kind"], a["value"], a["source"]) for a in listed} >= {("host", "his-app01", "csv")}
    state = StateStore(DataDir(data).state)
    entry = AuditLog(state).entries(target_type="assets")[0]
    assert entry.actor == "lan" and entry.after["imported"] == 2
    AssetStore(state).record_unknown(
        {("host.name", "kiosk-3"): (4, "2026-12-01T00:00:00Z", "2026-12-01T05:00:00Z")}
    )
    state.close()
    assert main(["assets", "unknown", "--data-dir", str(data), "--json"]) == 0
    unknown = orjson.loads(capsys.readouterr().out)["unknown"]
    assert unknown == [
        {
            "field": "host.name",
            "value": "kiosk-3",
            "count": 4,
            "first_seen": "2026-12-01T00:00:00Z",
            "last_seen": "2026-12-01T05:00:00Z",
        }
    ]


def test_cli_import_of_a_bad_header_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_file = tmp_path / "bad.csv"
    csv_file.write_text("name,kind\nx,host\n", encoding="utf-8")
    assert main(["assets", "import", str(csv_file), "--data-dir", str(tmp_path / "d")]) == 2
    assert "line 1, column 1: unknown column 'name'" in capsys.readouterr().err


def test_imported_assets_replace_by_kind_and_value(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    store = AssetStore(state)
    who = Actor("lan", "local", "cli:test")
    store.upsert(read_assets_csv_text(tmp_path, "so-yte,host,his-app01,2\n"), who, "a.csv")
    store.upsert(read_assets_csv_text(tmp_path, "so-yte,host,his-app01,5\n"), who, "b.csv")
    assert [(a.value, a.security_level) for a in store.assets()] == [("his-app01", 5)]
    assert AuditLog(state).entries(target_type="assets")[1].after["replaced"] == 1
    state.close()


def read_assets_csv_text(tmp_path: Path, rows: str) -> list[Asset]:
    path = tmp_path / "x.csv"
    path.write_text("agency_id,kind,value,security_level\n" + rows, encoding="utf-8")
    return read_assets_csv(path).assets


def test_config_check_names_the_inventory_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "assets.yaml").write_text(
        "agencies:\n  - id: a\n    assets: [{host: h, security_level: 9}]\n"
    )
    config = tmp_path / "soc.yaml"
    config.write_text("assets: {file: assets.yaml}\n", encoding="utf-8")
    assert main(["config", "check", "--config", str(config), "--json"]) == 2
    problems = [p for p in orjson.loads(capsys.readouterr().out)["problems"] if p["key"].startswith("assets")]
    assert problems == [
        {
            "key": f"assets.file: {tmp_path / 'assets.yaml'}: agencies[0].assets[0].security_level",
            "reason": "must be 1..5, got 9",
        }
    ]


def test_enricher_refresh_picks_up_edits_and_imports_and_survives_a_broken_edit(tmp_path: Path) -> None:
    from soc.assets.enrich import build_asset_enricher

    path = tmp_path / "assets.yaml"
    text = "agencies:\n  - id: a1\n    assets: [{host: web01, security_level: LEVEL}]\n"
    path.write_text(text.replace("LEVEL", "2"), encoding="utf-8")
    state = StateStore(tmp_path / "state.db")
    store = AssetStore(state)
    enricher = build_asset_enricher([], path, store, flag_unknown=True)
    inventory = enricher.inventory
    assert enricher.refresh() is False  # nothing changed
    assert enricher.index.by_host("db01") is None
    store.upsert(read_assets_csv_text(tmp_path, "a1,host,db01,4\n"), Actor("lan"), "x.csv")
    assert enricher.refresh() is True
    assert enricher.index.by_host("db01").asset.security_level == 4  # type: ignore[union-attr]
    assert inventory is enricher.inventory and len(inventory.assets) == 2  # the API's object is updated
    path.write_text(text.replace("LEVEL", "9"), encoding="utf-8")
    with pytest.raises(AssetError, match=r"must be 1\.\.5"):
        enricher.refresh()
    assert enricher.index.by_host("web01").asset.security_level == 2  # type: ignore[union-attr]
    assert enricher.refresh() is False  # reported once, until the file changes again
    state.close()
