"""The alert tables in the state store, and the migration of older state databases.

``alerts`` was created before triage existed; :func:`migrate_alerts` adds the columns
it lacks (``ALTER TABLE ... ADD COLUMN``), fills the classification of alerts that
predate them (MITRE, incident type and risk from their rule tags and severity), and
creates the queue indexes. It is idempotent and runs when an
:class:`~soc.alerts.repository.AlertRepository` opens a state store.
"""

from __future__ import annotations

import sqlite3

import orjson

from soc.alerts.classify import incident_type_from_tags, mitre_from_tags, risk_score
from soc.state import StateStore, register_schema

register_schema(
    "alerts",
    """
    CREATE TABLE IF NOT EXISTS alerts (
        id TEXT PRIMARY KEY,
        rule_id TEXT NOT NULL,
        rule_title TEXT NOT NULL,
        rule_type TEXT NOT NULL,
        rule_author TEXT NOT NULL DEFAULT '',
        rule_version TEXT NOT NULL DEFAULT '',
        rule_description TEXT NOT NULL DEFAULT '',
        severity TEXT NOT NULL,
        severity_rank INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'new',
        group_key TEXT NOT NULL,
        host TEXT, user TEXT, source_ip TEXT, agency_id TEXT, agency_name TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        refs TEXT NOT NULL DEFAULT '[]',
        excerpts TEXT NOT NULL DEFAULT '[]',
        details TEXT NOT NULL DEFAULT '{}',
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 1,
        created TEXT NOT NULL,
        updated TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS alerts_dedup ON alerts(rule_id, group_key, last_seen);
    CREATE INDEX IF NOT EXISTS alerts_queue ON alerts(status, severity_rank, last_seen);
    CREATE INDEX IF NOT EXISTS alerts_last_seen ON alerts(last_seen, id);
    CREATE TABLE IF NOT EXISTS alert_evidence (
        alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (alert_id, event_id)
    );
    CREATE TABLE IF NOT EXISTS alert_comments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        alert_id TEXT NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
        author TEXT NOT NULL,
        created TEXT NOT NULL,
        body TEXT NOT NULL,
        kind TEXT NOT NULL DEFAULT 'comment'
    );
    CREATE INDEX IF NOT EXISTS alert_comments_alert ON alert_comments(alert_id, id);
    """,
)

TRIAGE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("risk_score", "INTEGER NOT NULL DEFAULT 0"),
    ("security_level", "INTEGER"),
    ("criticality", "TEXT"),
    ("system", "TEXT"),
    ("incident_type", "TEXT NOT NULL DEFAULT 'other'"),
    ("incident_type_overridden", "INTEGER NOT NULL DEFAULT 0"),
    ("mitre_tactics", "TEXT NOT NULL DEFAULT '[]'"),
    ("mitre_techniques", "TEXT NOT NULL DEFAULT '[]'"),
    ("entities", "TEXT NOT NULL DEFAULT '{}'"),
    ("assignee", "TEXT"),
    ("resolution", "TEXT"),
    ("analyst_tags", "TEXT NOT NULL DEFAULT '[]'"),
)
"""Columns added for triage, in the order they are added to an older table."""

QUEUE_INDEXES = (
    # one per sort order, walked newest/highest first, with the usual filters covered
    "CREATE INDEX IF NOT EXISTS alerts_recent ON alerts(last_seen, id, status, severity_rank)",
    "CREATE INDEX IF NOT EXISTS alerts_risk ON alerts(risk_score, last_seen, id, status, severity_rank)",
    "CREATE INDEX IF NOT EXISTS alerts_severity ON alerts(severity_rank, last_seen, id, status)",
    # an equality filter first, then a sort order
    "CREATE INDEX IF NOT EXISTS alerts_status_last ON alerts(status, last_seen, id, severity_rank)",
    "CREATE INDEX IF NOT EXISTS alerts_status_risk ON alerts(status, risk_score, last_seen, id)",
    "CREATE INDEX IF NOT EXISTS alerts_agency_status_risk "
    "ON alerts(agency_id, status, risk_score, last_seen, id, severity_rank)",
    "CREATE INDEX IF NOT EXISTS alerts_agency_last_seen ON alerts(agency_id, last_seen, id)",
    "CREATE INDEX IF NOT EXISTS alerts_assignee ON alerts(assignee, status, last_seen, id)",
    "CREATE INDEX IF NOT EXISTS alerts_incident_type ON alerts(incident_type, last_seen, id)",
    "CREATE INDEX IF NOT EXISTS alerts_incident_type_risk "
    "ON alerts(incident_type, risk_score, last_seen, id)",
)
"""Indexes of the queue (``soc/alerts/queue.py``); ``bench/alerts_api.py`` measures them."""

PLANNER_STATS: dict[str, str] = {
    "sqlite_autoindex_alerts_1": "1000000 1",
    "alerts_dedup": "1000000 2000 2 1",
    "alerts_queue": "1000000 200000 50000 2",
    "alerts_last_seen": "1000000 24 1",
    "alerts_recent": "1000000 24 1 1 1",
    "alerts_risk": "1000000 22728 2 1 1 1",
    "alerts_severity": "1000000 250000 6 1 1",
    "alerts_status_last": "1000000 200000 5 1 1",
    "alerts_status_risk": "1000000 200000 4546 2 1",
    "alerts_agency_status_risk": "1000000 50000 10000 228 1 1 1",
    "alerts_agency_last_seen": "1000000 50000 2 1",
    "alerts_assignee": "1000000 333334 66667 3 1",
    "alerts_incident_type": "1000000 200000 5 1",
    "alerts_incident_type_risk": "1000000 200000 12500 2 1",
}
"""``sqlite_stat1`` rows for the alert indexes (measured over a million alerts of 20
agencies). Without statistics SQLite's planner picks poor indexes for several queue
shapes (seconds instead of milliseconds at a million alerts), and ``ANALYZE`` of a young
table describes a table that is not there yet; so these are installed for every index
that has none, and a real ``ANALYZE`` (which replaces them) stays possible."""


def migrate_alerts(state: StateStore) -> list[str]:
    """Bring the ``alerts`` table up to date; returns the columns that were added."""
    with state.transaction() as conn:
        present = {row["name"] for row in conn.execute("PRAGMA table_info(alerts)")}
        added = [name for name, _ in TRIAGE_COLUMNS if name not in present]
        for name, decl in TRIAGE_COLUMNS:
            if name in added:
                conn.execute(f"ALTER TABLE alerts ADD COLUMN {name} {decl}")
        if added:
            _classify_existing(conn)
        for ddl in QUEUE_INDEXES:
            conn.execute(ddl)
        install_planner_stats(conn)
    return added


def install_planner_stats(conn: sqlite3.Connection) -> None:
    """Add :data:`PLANNER_STATS` for the alert indexes that have no statistics, and
    make this connection's planner use them."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is None:
        conn.execute("ANALYZE sqlite_master")  # creates sqlite_stat1 (analyses no table)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone() is None:
        return
    existing = {row[0] for row in conn.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'alerts'")}
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'alerts'")}
    missing = [
        (name, stat) for name, stat in PLANNER_STATS.items() if name in indexes and name not in existing
    ]
    if missing:
        conn.executemany("INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('alerts', ?, ?)", missing)
        conn.execute("ANALYZE sqlite_master")  # reload the statistics


def _classify_existing(conn: sqlite3.Connection) -> None:
    """MITRE, incident type and risk of alerts stored before those columns existed."""
    rows = conn.execute("SELECT id, tags, severity FROM alerts").fetchall()
    for row in rows:
        tags = orjson.loads(row["tags"])
        tactics, techniques = mitre_from_tags(tags)
        conn.execute(
            "UPDATE alerts SET mitre_tactics = ?, mitre_techniques = ?, incident_type = ?, risk_score = ? "
            "WHERE id = ?",
            (
                orjson.dumps(tactics).decode(),
                orjson.dumps(techniques).decode(),
                incident_type_from_tags(tags),
                risk_score(row["severity"], None, None),
                row["id"],
            ),
        )
