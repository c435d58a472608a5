"""Databases in and out: PostgreSQL, SQLite and DuckDB.

Reading takes a database URL (``postgresql://user@host:5432/shop``, ``sqlite:///shop.db``,
``duckdb:///shop.duckdb``) and returns its tables with what the catalog declares about
them: column types, primary keys, foreign keys (``DbSource``, data-free, kept in the model
file) and the rows, read in chunks so memory stays bounded by the result, not the driver.
Writing creates the tables with those types and constraints and inserts every table,
parents first, in one transaction: all or nothing.

SQLite needs nothing beyond Python; PostgreSQL needs ``lookalike[postgres]`` (SQLAlchemy
reflection, psycopg 3 for streaming reads and COPY); DuckDB needs ``lookalike[duckdb]``.
A password is taken from the URL or the environment (``PGPASSWORD``) and never shown:
every message prints the URL through ``mask_url``.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import DatabaseError

log = logging.getLogger(__name__)

KINDS = {"postgresql": "postgresql", "postgres": "postgresql", "sqlite": "sqlite", "duckdb": "duckdb"}
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9]*)(\+[A-Za-z0-9_]+)?://")
CHUNK_ROWS = 50_000  # rows fetched (and converted) at a time
EXTRA = {"postgresql": "postgres", "duckdb": "duckdb"}


# --- URLs ---------------------------------------------------------------------------------

def is_database_url(value: object) -> bool:
    """True for a string that looks like ``scheme://...`` with a database scheme."""
    if not isinstance(value, str):
        return False
    m = _URL.match(value)
    return bool(m) and m["scheme"].lower() in KINDS


def database_kind(url: str) -> str:
    m = _URL.match(url) if isinstance(url, str) else None
    if not m or m["scheme"].lower() not in KINDS:
        raise DatabaseError(f"'{mask_url(str(url))}' is not a database URL lookalike reads; use postgresql://user@host:5432/db, "
                            "sqlite:///file.db or duckdb:///file.duckdb")
    return KINDS[m["scheme"].lower()]


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (in the authority and in ``password=``)."""
    url = re.sub(r"^([^:/?#]+://[^:/@?#]*:)[^@/?#]*@", r"\1***@", url)
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)


def _scrub(text: str, url: str) -> str:
    """A driver's message, with the URL's password (if any) masked wherever it appears."""
    m = re.match(r"^[^:/?#]+://[^:/@?#]*:([^@/?#]*)@", url) or re.search(r"(?i)[?&]password=([^&#]*)", url)
    text = " ".join(str(text).split())
    if m and m.group(1):
        from urllib.parse import unquote

        for secret in {m.group(1), unquote(m.group(1))}:
            text = text.replace(secret, "***")
    return text


def _file_path(url: str) -> Path:
    """``sqlite:///relative.db`` / ``sqlite:////absolute.db`` -> the file's path."""
    rest = url.split("://", 1)[1].split("?", 1)[0]
    if not rest.startswith("/") or rest == "/":
        raise DatabaseError(f"'{url}': expected a file, e.g. {url.split(':')[0]}:///shop.db (relative) or "
                            f"{url.split(':')[0]}:////abs/path/shop.db")
    return Path(rest[1:])


# --- what the catalog says ----------------------------------------------------------------

@dataclass
class DbColumn:
    name: str
    type: str  # as declared in the source ("VARCHAR(20)", "NUMERIC(10, 2)", "" for an untyped SQLite column)
    generic: str  # integer | float | decimal | boolean | date | timestamp | timestamptz | text | other | any
    nullable: bool = True


@dataclass
class DbForeignKey:
    columns: list[str]
    references: str
    referenced_columns: list[str]


@dataclass
class DbTable:
    name: str
    columns: list[DbColumn]
    primary_key: list[str] = field(default_factory=list)
    foreign_keys: list[DbForeignKey] = field(default_factory=list)

    def column(self, name: str) -> DbColumn | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class DbSource:
    """What a database's catalog declared about the tables read: names, types, keys. No
    values, no URL, no credentials: this is what the model file keeps."""

    kind: str
    tables: dict[str, DbTable]
    schema: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "schema": self.schema, "tables": {n: asdict(t) for n, t in self.tables.items()}}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DbSource:
        tables = {}
        for n, t in d["tables"].items():
            tables[n] = DbTable(name=t["name"], columns=[DbColumn(**c) for c in t["columns"]],
                                primary_key=list(t.get("primary_key", [])),
                                foreign_keys=[DbForeignKey(**f) for f in t.get("foreign_keys", [])])
        return cls(kind=d["kind"], tables=tables, schema=d.get("schema"))


def generic_type(declared: str) -> str:
    """The portable kind of a declared column type, the same rules for all three databases."""
    t = (declared or "").upper().strip()
    if not t:
        return "any"
    if t.endswith("]") or any(w in t for w in ("ARRAY", "STRUCT", "MAP(", "LIST", "INTERVAL", "POINT", "JSON",
                                                  "UUID", "BLOB", "BYTEA", "BIT", "ENUM")):
        return "other"
    if "TIMESTAMP" in t or "DATETIME" in t:
        return "timestamptz" if ("WITH TIME ZONE" in t or "TIMESTAMPTZ" in t) else "timestamp"
    if t.startswith("DATE"):
        return "date"
    if "TIME" in t:
        return "other"  # a time of day
    if "BOOL" in t:
        return "boolean"
    if "INT" in t or "SERIAL" in t:
        return "integer"
    if "NUMERIC" in t or "DECIMAL" in t:
        return "decimal"
    if any(w in t for w in ("REAL", "FLOA", "DOUB")):
        return "float"
    if any(w in t for w in ("CHAR", "CLOB", "TEXT", "STRING")):
        return "text"
    return "other"


_DDL = {
    "sqlite": {"integer": "INTEGER", "float": "REAL", "decimal": "NUMERIC", "boolean": "BOOLEAN", "date": "DATE",
               "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMP", "text": "TEXT", "other": "TEXT"},
    "postgresql": {"integer": "bigint", "float": "double precision", "decimal": "numeric", "boolean": "boolean",
                   "date": "date", "timestamp": "timestamp", "timestamptz": "timestamptz", "text": "text", "other": "text"},
    "duckdb": {"integer": "BIGINT", "float": "DOUBLE", "decimal": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE",
               "timestamp": "TIMESTAMP", "timestamptz": "TIMESTAMPTZ", "text": "VARCHAR", "other": "VARCHAR"},
}


def frame_generic(values: pd.Series) -> str:
    """The portable kind of a DataFrame column (for tables without a declared type)."""
    kind = values.dtype.kind
    if kind == "b" or isinstance(values.dtype, pd.BooleanDtype):
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "float"
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return "timestamptz"
    if kind == "M":
        v = values.dropna()
        return "date" if len(v) and (v == v.dt.normalize()).all() else "timestamp"
    return "text"


def ddl_type(col: DbColumn, target: str, source: str | None) -> str:
    """The column's type in ``target``: as declared when the source was the same kind of
    database, else the portable equivalent (keeping a decimal's precision and scale)."""
    if source == target and col.type:
        return col.type
    generic = "text" if col.generic == "any" else col.generic
    m = re.search(r"\(\s*(\d+)\s*(?:,\s*(\d+))?\s*\)", col.type or "")
    if generic == "decimal" and m and target != "sqlite" and int(m[1]) <= 38:
        return f"{'numeric' if target == 'postgresql' else 'DECIMAL'}({m[1]},{m[2] or 0})"
    return _DDL[target][generic]


# --- connections -----------------------------------------------------------------------------

def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _need(module: str, kind: str, url: str):
    from importlib import import_module

    try:
        return import_module(module)
    except ImportError:
        raise DatabaseError(f"'{mask_url(url)}': {kind} needs the {module.split('.')[0]} package: "
                            f"pip install 'lookalike[{EXTRA[kind]}]'") from None


class _Db:
    """One open connection, with the few catalog, read and write operations lookalike needs."""

    kind = ""
    default_schema: str | None = None

    def __init__(self, url: str, schema: str | None):
        self.url, self.schema = url, schema

    def _name(self, table: str) -> str:
        return f"{_q(self.schema)}.{_q(table)}" if self.schema else _q(table)

    def select(self, t: DbTable) -> str:
        return f"SELECT {', '.join(_q(c.name) for c in t.columns)} FROM {self._name(t.name)}"

    def begin(self) -> None:
        self.execute("BEGIN")

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def create(self, t: DbTable, source: str | None) -> None:
        parts = [f"{_q(c.name)} {ddl_type(c, self.kind, source)}{'' if c.nullable else ' NOT NULL'}" for c in t.columns]
        if t.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(map(_q, t.primary_key))})")
        for fk in t.foreign_keys:
            parts.append(f"FOREIGN KEY ({', '.join(map(_q, fk.columns))}) REFERENCES {self._name(fk.references)} "
                         f"({', '.join(map(_q, fk.referenced_columns))})")
        self.execute(f"CREATE TABLE {self._name(t.name)} ({', '.join(parts)})")

    def drop(self, table: str) -> None:
        self.execute(f"DROP TABLE {self._name(table)}")

    # subclasses: tables(), describe(name), chunks(t), execute(sql), insert(t, frame), close()


class _SQLite(_Db):
    kind = "sqlite"

    def __init__(self, url: str, schema: str | None, write: bool):
        import sqlite3

        super().__init__(url, None)
        if schema not in (None, "main"):
            raise DatabaseError(f"'{url}': SQLite has no schemas; leave --schema out")
        self.path = _file_path(url)
        if not write and not self.path.is_file():
            raise DatabaseError(f"database file '{self.path}' not found (from {url}); check the path "
                                "(sqlite:///relative.db, sqlite:////absolute/path.db)")
        if write and not self.path.parent.is_dir():
            raise DatabaseError(f"'{url}': folder {self.path.parent} does not exist; create it first")
        self.created = write and not self.path.exists()
        try:
            target = f"{self.path.resolve().as_uri()}?mode=ro" if not write else str(self.path)
            self.con = sqlite3.connect(target, uri=not write, isolation_level=None)
            self.con.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise DatabaseError(f"'{url}': cannot open it: {exc}") from None

    def execute(self, sql: str, params=()):
        return self.con.execute(sql, params)

    def tables(self) -> list[str]:
        return [r[0] for r in self.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                           "AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]

    def describe(self, name: str) -> DbTable:
        info = self.execute(f"PRAGMA table_info({_q(name)})").fetchall()
        columns = [DbColumn(r[1], r[2] or "", generic_type(r[2]), nullable=not r[3] and not r[5]) for r in info]
        pk = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5]]
        fks: dict[int, DbForeignKey] = {}
        for r in self.execute(f"PRAGMA foreign_key_list({_q(name)})").fetchall():
            fk = fks.setdefault(r[0], DbForeignKey([], r[2], []))
            fk.columns.append(r[3])
            fk.referenced_columns.append(r[4])
        for fk in fks.values():
            if any(c is None for c in fk.referenced_columns):  # REFERENCES parent: its primary key
                fk.referenced_columns = [r[1] for r in sorted(self.execute(f"PRAGMA table_info({_q(fk.references)})"),
                                                              key=lambda r: r[5]) if r[5]]
        return DbTable(name, columns, pk, list(fks.values()))

    def chunks(self, t: DbTable) -> Iterator[pd.DataFrame]:
        cur = self.execute(self.select(t))
        names = [c.name for c in t.columns]
        while rows := cur.fetchmany(CHUNK_ROWS):
            yield pd.DataFrame.from_records(rows, columns=names, coerce_float=True)

    def begin(self) -> None:
        self.execute("BEGIN IMMEDIATE")

    def insert(self, t: DbTable, frame: pd.DataFrame) -> None:
        values = [_python_values(frame[c.name], c, self.kind) for c in t.columns]
        marks = ", ".join("?" for _ in t.columns)
        self.con.executemany(f"INSERT INTO {_q(t.name)} ({', '.join(_q(c.name) for c in t.columns)}) VALUES ({marks})",
                             zip(*values))

    def close(self) -> None:
        self.con.close()


class _DuckDB(_Db):
    kind = "duckdb"
    default_schema = "main"

    def __init__(self, url: str, schema: str | None, write: bool):
        duckdb = _need("duckdb", "duckdb", url)
        super().__init__(url, schema or "main")
        self.path = _file_path(url)
        if not write and not self.path.is_file():
            raise DatabaseError(f"database file '{self.path}' not found (from {url}); check the path "
                                "(duckdb:///relative.duckdb, duckdb:////absolute/path.duckdb)")
        if write and not self.path.parent.is_dir():
            raise DatabaseError(f"'{url}': folder {self.path.parent} does not exist; create it first")
        self.created = write and not self.path.exists()
        try:
            self.con = duckdb.connect(str(self.path), read_only=not write)
        except duckdb.Error as exc:
            raise DatabaseError(f"'{url}': cannot open it: {_scrub(exc, url)}") from None

    def execute(self, sql: str, params=None):
        return self.con.execute(sql, params) if params is not None else self.con.execute(sql)

    def tables(self) -> list[str]:
        return [r[0] for r in self.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = ? AND "
                                           "database_name = current_database() ORDER BY table_oid", [self.schema]).fetchall()]

    def describe(self, name: str) -> DbTable:
        cols = self.execute("SELECT column_name, data_type, is_nullable FROM duckdb_columns() WHERE table_name = ? "
                            "AND schema_name = ? AND database_name = current_database() ORDER BY column_index",
                            [name, self.schema]).fetchall()
        t = DbTable(name, [DbColumn(c, d, generic_type(d), bool(n)) for c, d, n in cols])
        for kind, columns, ref, ref_cols in self.execute(
                "SELECT constraint_type, constraint_column_names, referenced_table, referenced_column_names FROM "
                "duckdb_constraints() WHERE table_name = ? AND schema_name = ? AND database_name = current_database() "
                "ORDER BY constraint_index", [name, self.schema]).fetchall():
            if kind == "PRIMARY KEY":
                t.primary_key = list(columns)
            elif kind == "FOREIGN KEY":
                t.foreign_keys.append(DbForeignKey(list(columns), ref, list(ref_cols)))
        return t

    def select(self, t: DbTable) -> str:
        # decimals as doubles, nested and exotic types as text: every value a flat column can hold
        cast = {"decimal": "DOUBLE", "other": "VARCHAR"}
        return "SELECT " + ", ".join(f"CAST({_q(c.name)} AS {cast[c.generic]}) AS {_q(c.name)}" if c.generic in cast
                                     else _q(c.name) for c in t.columns) + f" FROM {self._name(t.name)}"

    def chunks(self, t: DbTable) -> Iterator[pd.DataFrame]:
        relation = self.con.sql(self.select(t))
        reader = (relation.to_arrow_reader(CHUNK_ROWS) if hasattr(relation, "to_arrow_reader")
                  else relation.record_batch(CHUNK_ROWS))  # duckdb 2 / 1
        for batch in reader:
            yield batch.to_pandas(date_as_object=False)

    def insert(self, t: DbTable, frame: pd.DataFrame) -> None:
        cols = {c.name: _python_values(frame[c.name], c, self.kind, as_list=False) for c in t.columns}
        staged = pd.DataFrame(cols)
        self.con.register("__lookalike_rows", staged)
        try:
            self.execute(f"INSERT INTO {self._name(t.name)} SELECT * FROM __lookalike_rows")
        finally:
            self.con.unregister("__lookalike_rows")

    def close(self) -> None:
        self.con.close()


class _Postgres(_Db):
    kind = "postgresql"
    default_schema = "public"

    def __init__(self, url: str, schema: str | None, write: bool):
        sa = _need("sqlalchemy", "postgresql", url)
        psycopg = _need("psycopg", "postgresql", url)
        super().__init__(url, schema or "public")
        from sqlalchemy.pool import NullPool

        self.sa_url = re.sub(r"^[^:]+://", "postgresql+psycopg://", url)
        self.created_db: str | None = None
        try:
            self.engine = sa.create_engine(self.sa_url, poolclass=NullPool)
            try:
                self.raw = self.engine.raw_connection()
            except (sa.exc.OperationalError, psycopg.OperationalError) as exc:
                if not (write and "does not exist" in str(exc)):
                    raise
                self._create_database(sa)
                self.raw = self.engine.raw_connection()
        except (sa.exc.SQLAlchemyError, psycopg.Error) as exc:
            why = _scrub(getattr(exc, "orig", None) or exc, url)
            raise DatabaseError(f"database '{mask_url(url)}' cannot be reached: {why}; check the host, port, database "
                                "name and user (the password comes from the URL or PGPASSWORD)") from None
        self.pg = self.raw.driver_connection  # psycopg 3: server-side cursors and COPY

    def _create_database(self, sa) -> None:
        """An output database that does not exist yet is created (and dropped again if the write fails)."""
        name = self.engine.url.database
        admin = sa.create_engine(self.engine.url.set(database="postgres"), poolclass=sa.pool.NullPool,
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as con:
            con.exec_driver_sql(f"CREATE DATABASE {_q(name)}")
        admin.dispose()
        self.created_db = name
        log.info("created database '%s'", name)

    def drop_created_database(self) -> None:
        import sqlalchemy as sa

        admin = sa.create_engine(self.engine.url.set(database="postgres"), poolclass=sa.pool.NullPool,
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as con:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {_q(self.created_db)}")
        admin.dispose()

    def execute(self, sql: str, params=None):
        return self.pg.execute(sql, params)

    def begin(self) -> None:
        self.pg.commit()  # end the implicit transaction of earlier reads; the next statement opens ours

    def commit(self) -> None:
        self.pg.commit()

    def rollback(self) -> None:
        self.pg.rollback()

    def tables(self) -> list[str]:
        from sqlalchemy import inspect

        return list(inspect(self.engine).get_table_names(schema=self.schema))

    def describe(self, name: str) -> DbTable:
        from sqlalchemy import inspect

        insp = inspect(self.engine)
        columns = []
        for c in insp.get_columns(name, schema=self.schema):
            try:
                declared = c["type"].compile(dialect=self.engine.dialect)
            except Exception:  # a type SQLAlchemy cannot name: read and written as text
                declared = "text"
            if type(c["type"]).__name__ in ("ENUM", "Enum"):  # a user-defined type: a new database has not got it
                declared = "text"
            columns.append(DbColumn(c["name"], declared, generic_type(declared), bool(c.get("nullable", True))))
        pk = list(insp.get_pk_constraint(name, schema=self.schema).get("constrained_columns") or [])
        fks = [DbForeignKey(list(f["constrained_columns"]), f["referred_table"], list(f["referred_columns"]))
               for f in insp.get_foreign_keys(name, schema=self.schema)
               if f.get("referred_schema") in (None, self.schema)]
        return DbTable(name, columns, pk, fks)

    def select(self, t: DbTable) -> str:
        cast = {"decimal": "float8", "other": "text"}
        return "SELECT " + ", ".join(f"{_q(c.name)}::{cast[c.generic]} AS {_q(c.name)}" if c.generic in cast
                                     else _q(c.name) for c in t.columns) + f" FROM {self._name(t.name)}"

    def chunks(self, t: DbTable) -> Iterator[pd.DataFrame]:
        names = [c.name for c in t.columns]
        with self.pg.cursor(name="lookalike_read") as cur:  # server side: rows arrive CHUNK_ROWS at a time
            cur.itersize = CHUNK_ROWS
            cur.execute(self.select(t))
            while rows := cur.fetchmany(CHUNK_ROWS):
                yield pd.DataFrame.from_records(rows, columns=names, coerce_float=True)
        self.pg.commit()

    def insert(self, t: DbTable, frame: pd.DataFrame) -> None:
        values = [_python_values(frame[c.name], c, self.kind) for c in t.columns]
        with self.pg.cursor() as cur:
            with cur.copy(f"COPY {self._name(t.name)} ({', '.join(_q(c.name) for c in t.columns)}) FROM STDIN") as cp:
                for row in zip(*values):
                    cp.write_row(row)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.raw.close()
        self.engine.dispose()


def _open(url: str, schema: str | None = None, write: bool = False) -> _Db:
    kind = database_kind(url)
    backend = {"sqlite": _SQLite, "duckdb": _DuckDB, "postgresql": _Postgres}[kind]
    return backend(url, schema, write)


# --- reading ------------------------------------------------------------------------------------

def read_database(url: str, include: list[str] | None = None, schema: str | None = None
                  ) -> tuple[DbSource, dict[str, pd.DataFrame]]:
    """The catalog's description of the tables (all, or those in ``include``) and their rows.

    Date and timestamp columns come back as datetimes (time zones as UTC), decimals as
    floats, types a flat column cannot hold (arrays, JSON, UUIDs) as text."""
    db = _open(url, schema)
    try:
        try:
            names = db.tables()
        except Exception as exc:
            raise DatabaseError(f"'{mask_url(url)}': cannot list its tables: {_scrub(exc, url)}") from None
        where = f"'{mask_url(url)}'" + (f" (schema '{db.schema}')" if db.schema and db.kind == "postgresql" else "")
        if not names:
            raise DatabaseError(f"{where} has no tables; check the URL{' and --schema' if db.kind != 'sqlite' else ''}")
        if include is not None:
            unknown = [t for t in include if t not in names]
            if unknown:
                raise DatabaseError(f"--tables: unknown table(s) {', '.join(repr(t) for t in unknown)} in {where}; "
                                    f"tables are {', '.join(names)}")
            names = [t for t in names if t in include]
        tables = {n: db.describe(n) for n in names}
        frames = {}
        for n, t in tables.items():
            try:
                parts = list(db.chunks(t))
            except DatabaseError:
                raise
            except Exception as exc:
                raise DatabaseError(f"table '{n}' of '{mask_url(url)}' cannot be read: {_scrub(exc, url)}") from None
            df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c.name: [] for c in t.columns})
            del parts
            frames[n] = _typed(df, t)
            log.info("read table '%s': %d rows, %d columns", n, len(df), len(df.columns))
        return DbSource(db.kind, tables, db.schema if db.kind == "postgresql" else None), frames
    finally:
        db.close()


def _typed(df: pd.DataFrame, t: DbTable) -> pd.DataFrame:
    """Columns as a flat table wants them, by declared type: dates and timestamps as ISO
    text, as a CSV file holds them (SQLite stores them so; time zones become UTC), 0/1
    booleans as booleans, decimals as floats."""
    from .io import csv_ready

    for c in t.columns:
        s = df[c.name]
        if c.generic in ("date", "timestamp", "timestamptz") and (s.dtype.kind == "M" or s.dtype == object
                                                                  and not s.map(type).eq(str).all()):
            parsed = pd.to_datetime(s, errors="coerce", utc=True, format="mixed")
            if parsed.isna().sum() > s.isna().sum():  # not dates after all: keep the values as they are
                log.warning("table '%s', column '%s': declared %s but holds values that are not dates; read as they are",
                            t.name, c.name, c.type)
                continue
            s = csv_ready(pd.DataFrame({c.name: parsed.dt.tz_localize(None)}))[c.name]
        if c.generic == "boolean" and s.dtype.kind != "b" and s.notna().all() and set(s.unique()) <= {0, 1}:
            s = s.astype(bool)
        if c.generic in ("decimal", "float") and s.dtype == object:
            s = _numeric(s)
        df[c.name] = s
    return df


def _numeric(s: pd.Series) -> pd.Series:
    out = pd.to_numeric(s, errors="coerce")
    return out if out.isna().sum() == s.isna().sum() else s


# --- writing -------------------------------------------------------------------------------------

def _python_values(values: pd.Series, col: DbColumn, target: str, as_list: bool = True):
    """One column's values as the driver takes them for ``col``: plain Python objects (or,
    ``as_list=False``, a Series DuckDB casts itself), None for nulls; decimals rounded to
    their declared scale (SQLite would keep a float's binary tail)."""
    generic = col.generic
    if generic == "any":
        generic = frame_generic(values)
    s = values
    if generic in ("date", "timestamp", "timestamptz"):
        s = pd.to_datetime(s, errors="coerce", format="mixed")
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            s = s.dt.tz_convert("UTC").dt.tz_localize(None)
        if not as_list:
            return s.dt.normalize() if generic == "date" else s
        if target == "sqlite":
            text = s.dt.strftime("%Y-%m-%d" if generic == "date" else "%Y-%m-%d %H:%M:%S")
            return [None if pd.isna(v) else v for v in text]
        from datetime import timezone

        utc = timezone.utc if generic == "timestamptz" else None  # stored as UTC, read back as UTC
        return [None if pd.isna(v) else v.date() if generic == "date" else v.to_pydatetime().replace(tzinfo=utc)
                for v in s]
    if generic == "integer":
        num = pd.to_numeric(s, errors="coerce")
        if num.isna().sum() == s.isna().sum() and (num.dropna() == num.dropna().round()).all():
            s = num.round().astype("Int64")
    elif generic in ("float", "decimal"):
        num = pd.to_numeric(s, errors="coerce")
        if num.isna().sum() == s.isna().sum():
            s = num.astype("float64")
            scale = re.search(r"\(\s*\d+\s*,\s*(\d+)\s*\)", col.type or "")
            if generic == "decimal" and scale:
                s = s.round(int(scale[1]))
    elif generic == "boolean" and target == "sqlite":
        s = s.map(lambda v: v if v is None or (isinstance(v, float) and v != v) else int(bool(v)))
    elif generic in ("text", "other") and s.dtype != object:
        s = s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))
    if not as_list:
        return s
    out = s.astype(object).where(s.notna(), None).tolist()
    return [v.item() if isinstance(v, np.generic) else v for v in out]


def check_target(url: str, tables: list[str], replace: bool = False) -> None:
    """Refuse now, before any generation, a target that cannot take the tables: unreachable,
    a missing driver, or tables of these names already there (unless ``replace``)."""
    db = _open(url, write=True)
    try:
        _check_existing(db, tables, replace)
    finally:
        _close(db, drop_new=True)


def _check_existing(db: _Db, names: list[str], replace: bool) -> list[str]:
    there = [t for t in names if t in set(db.tables())]
    if there and not replace:
        raise DatabaseError(f"'{mask_url(db.url)}' already has table(s) {', '.join(there)}; write to an empty "
                            "database, or pass --replace (replace=True) to drop and rewrite them")
    return there


def _close(db: _Db, drop_new: bool) -> None:
    """Close ``db``; with ``drop_new``, remove what opening it created (a file, a database)."""
    db.close()
    if drop_new and getattr(db, "created", False):
        db.path.unlink(missing_ok=True)
        Path(f"{db.path}.wal").unlink(missing_ok=True)
    if drop_new and getattr(db, "created_db", None):
        db.drop_created_database()


def write_database(url: str, tables: list[DbTable], frames: dict[str, pd.DataFrame], *, source_kind: str | None = None,
                   replace: bool = False) -> None:
    """Create ``tables`` (parents first, with their keys) and insert ``frames`` in one
    transaction: on any error nothing is left behind. Existing tables of the same names are
    refused unless ``replace``: then they are dropped in the same transaction."""
    db = _open(url, write=True)
    ok = False
    try:
        there = _check_existing(db, [t.name for t in tables], replace)
        db.begin()
        try:
            for name in reversed([t.name for t in tables if t.name in there]):  # children before parents
                db.drop(name)
            for t in tables:
                db.create(t, source_kind)
            for t in tables:
                db.insert(t, frames[t.name])
                log.info("wrote table '%s': %d rows", t.name, len(frames[t.name]))
            db.commit()
            ok = True
        except Exception as exc:
            with contextlib.suppress(Exception):
                db.rollback()
            if isinstance(exc, DatabaseError):
                raise
            raise DatabaseError(f"writing to '{mask_url(url)}' failed, nothing was written: "
                                f"{exc.__class__.__name__}: {_scrub(exc, url)}") from None
    finally:
        _close(db, drop_new=not ok)
