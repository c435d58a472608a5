"""Metadata in SQLite: datasets, schemas (related tables: datasets linked by keys), models,
jobs, outputs (generated tables) and reports.

Files live in the data dir under folders named by ID; this module only records what
exists. A row is inserted after its files are complete (renamed into place), so
anything listed can be downloaded. Each thread keeps one connection; WAL lets the API
threads and the job processes read and write at the same time.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, file TEXT NOT NULL, size_bytes INTEGER NOT NULL,
    rows INTEGER NOT NULL, columns TEXT NOT NULL, preview TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, dataset_id TEXT, job_id TEXT, file TEXT NOT NULL,
    columns TEXT NOT NULL, training TEXT NOT NULL, config TEXT NOT NULL, has_qa_data INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS outputs (
    id TEXT PRIMARY KEY, model_id TEXT NOT NULL, job_id TEXT, file TEXT NOT NULL, rows INTEGER NOT NULL,
    params TEXT NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY, output_id TEXT NOT NULL, model_id TEXT NOT NULL, job_id TEXT, summary TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL, target_id TEXT NOT NULL,
    params TEXT NOT NULL, progress TEXT, result_id TEXT, error TEXT, runner TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL, started_at REAL, finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, created_at);
CREATE TABLE IF NOT EXISTS schemas (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, tables TEXT NOT NULL, proposed TEXT NOT NULL,
    drop_orphans INTEGER NOT NULL, orphans TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL
);
"""
# Columns added since the first release: (table, column, its declaration); a data dir made
# before gets them at start-up. Related-tables models: kind 'relational', their schema and
# tables; their outputs: rows per table.
ADDED_COLUMNS = (
    ("models", "kind", "TEXT NOT NULL DEFAULT 'table'"),
    ("models", "schema_id", "TEXT"),
    ("models", "tables", "TEXT"),
    ("outputs", "tables", "TEXT"),
)

JSON_FIELDS = {"columns", "preview", "training", "config", "params", "progress", "summary", "tables", "proposed",
               "orphans"}
TABLES = ("datasets", "schemas", "models", "outputs", "reports", "jobs")
ACTIVE = ("queued", "running")


def new_id() -> str:
    """12 lowercase hex characters: the only kind of identifier the API accepts."""
    return secrets.token_hex(6)


class Store:
    """Thin, typed-enough access to the SQLite file at ``path``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()

    def init(self) -> None:
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            for table, column, decl in ADDED_COLUMNS:
                if column not in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    @contextmanager
    def connect(self):
        """This thread's connection, opened once: opening and closing per call would
        checkpoint the WAL every time (the last connection to close does)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=True)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout=10000")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: safe against crashes, no fsync per commit
            self._local.db = db
        yield db

    # --- generic rows ------------------------------------------------------------
    @staticmethod
    def _decode(row: sqlite3.Row | None) -> dict[str, Any] | None:
        if row is None:
            return None
        d = dict(row)
        for k in JSON_FIELDS & d.keys():
            if d[k] is not None:
                d[k] = json.loads(d[k])
        return d

    def insert(self, table: str, **values: Any) -> dict[str, Any]:
        assert table in TABLES
        values.setdefault("created_at", time.time())
        row = {k: json.dumps(v) if k in JSON_FIELDS and v is not None else v for k, v in values.items()}
        with self.connect() as db:
            db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                       list(row.values()))
        return self.get(table, values["id"])

    def get(self, table: str, id: str) -> dict[str, Any] | None:
        assert table in TABLES
        with self.connect() as db:
            return self._decode(db.execute(f"SELECT * FROM {table} WHERE id = ?", (id,)).fetchone())

    def list(self, table: str, where: str = "", args: tuple = (), limit: int = 1000, offset: int = 0,
             exclude: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """Rows, newest first; ``exclude`` leaves out bulky columns (a dataset's preview)."""
        assert table in TABLES
        with self.connect() as db:
            names = [r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[1] not in exclude]
            sql = (f"SELECT {', '.join(names)} FROM {table} {('WHERE ' + where) if where else ''} "
                   "ORDER BY created_at DESC LIMIT ? OFFSET ?")
            return [self._decode(r) for r in db.execute(sql, (*args, limit, offset)).fetchall()]

    def update(self, table: str, id: str, **values: Any) -> dict[str, Any] | None:
        assert table in TABLES
        row = {k: json.dumps(v) if k in JSON_FIELDS and v is not None else v for k, v in values.items()}
        with self.connect() as db:
            db.execute(f"UPDATE {table} SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?", [*row.values(), id])
        return self.get(table, id)

    def delete(self, table: str, id: str) -> None:
        assert table in TABLES
        with self.connect() as db:
            db.execute(f"DELETE FROM {table} WHERE id = ?", (id,))

    # --- jobs --------------------------------------------------------------------
    def add_job(self, kind: str, target_id: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.insert("jobs", id=new_id(), kind=kind, status="queued", target_id=target_id, params=params)

    def next_queued(self) -> dict[str, Any] | None:
        with self.connect() as db:
            return self._decode(db.execute(
                "SELECT * FROM jobs WHERE status = 'queued' ORDER BY created_at LIMIT 1").fetchone())

    def start_job(self, id: str, runner: str) -> bool:
        """Claim a queued job for this server instance; False if it was cancelled meanwhile."""
        with self.connect() as db:
            cur = db.execute("UPDATE jobs SET status = 'running', runner = ?, started_at = ? "
                             "WHERE id = ? AND status = 'queued'", (runner, time.time(), id))
            return cur.rowcount == 1

    def set_progress(self, id: str, runner: str, progress: dict[str, Any]) -> bool:
        """Record progress; False when the job is no longer this runner's to run
        (cancelled, or failed by a restart), so the job process should stop."""
        with self.connect() as db:
            cur = db.execute("UPDATE jobs SET progress = ? WHERE id = ? AND status = 'running' AND runner = ? "
                             "AND cancel_requested = 0", (json.dumps(progress), id, runner))
            return cur.rowcount == 1

    def finish_job(self, id: str, runner: str | None, status: str, error: str | None = None,
                   result_id: str | None = None, db: sqlite3.Connection | None = None) -> bool:
        """Move a job to a final state, only if it is still active (and ours, when ``runner``)."""
        sql = ("UPDATE jobs SET status = ?, error = ?, result_id = ?, finished_at = ? "
               "WHERE id = ? AND status IN ('queued', 'running')")
        args: list[Any] = [status, error, result_id, time.time(), id]
        if runner is not None:
            sql += " AND runner = ?"
            args.append(runner)
        if db is not None:
            return db.execute(sql, args).rowcount == 1
        with self.connect() as conn:
            return conn.execute(sql, args).rowcount == 1

    def complete(self, job_id: str, runner: str, table: str, /, **values: Any) -> bool:
        """Atomically record a job's result row and mark the job succeeded. Returns False
        (recording nothing) if the job was cancelled or failed meanwhile."""
        values.setdefault("created_at", time.time())
        row = {k: json.dumps(v) if k in JSON_FIELDS and v is not None else v for k, v in values.items()}
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                if not self.finish_job(job_id, runner, "succeeded", result_id=values["id"], db=db):
                    db.execute("ROLLBACK")
                    return False
                db.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                           list(row.values()))
                db.execute("COMMIT")
                return True
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def request_cancel(self, id: str) -> dict[str, Any] | None:
        """Cancel a queued job at once; flag a running one for the runner to stop."""
        with self.connect() as db:
            db.execute("UPDATE jobs SET status = 'cancelled', error = 'cancelled by the user', finished_at = ? "
                       "WHERE id = ? AND status = 'queued'", (time.time(), id))
            db.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ? AND status = 'running'", (id,))
        return self.get("jobs", id)

    def fail_interrupted(self, reason: str) -> list[str]:
        """At start-up: jobs left active by a previous server process can never finish."""
        with self.connect() as db:
            ids = [r["id"] for r in db.execute("SELECT id FROM jobs WHERE status IN ('queued', 'running')")]
            db.execute("UPDATE jobs SET status = 'failed', error = ?, finished_at = ? "
                       "WHERE status IN ('queued', 'running')", (reason, time.time()))
        return ids

    def active_jobs_for(self, target_id: str) -> int:
        with self.connect() as db:
            return db.execute("SELECT COUNT(*) FROM jobs WHERE target_id = ? AND status IN ('queued', 'running')",
                              (target_id,)).fetchone()[0]
