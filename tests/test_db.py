"""Databases in and out: train on a database's tables (keys and types from its catalog) and
write synthetic tables back with the same types and constraints, in one transaction.

SQLite runs everywhere; DuckDB needs ``lookalike[duckdb]``; PostgreSQL runs against a real
server started here (``initdb`` + ``pg_ctl`` on a free loopback port) and skips when the
server binaries are missing, unless LOOKALIKE_REQUIRE_POSTGRES=1 (CI)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import lookalike
from lookalike.cli import app
from lookalike.db import DatabaseError, generic_type, mask_url, read_database

from conftest import shared_file

REQUIRE_POSTGRES = os.environ.get("LOOKALIKE_REQUIRE_POSTGRES") == "1"
PASSWORD = "s3cret-Pa55"
FAST = dict(max_epochs=2, seed=1, progress=False, model_size="small")

# A 3-table shop whose foreign-key columns are NOT named after their tables (buyer, purchase):
# only the catalog can tell how the tables hang together.
SHOP_DDL = """
CREATE TABLE users (id INTEGER PRIMARY KEY, segment VARCHAR(10) NOT NULL, age INTEGER NOT NULL, joined DATE);
CREATE TABLE purchases (pid INTEGER PRIMARY KEY, buyer INTEGER NOT NULL REFERENCES users (id), day DATE,
                        amt NUMERIC(10, 2), channel VARCHAR(10));
CREATE TABLE returns (rid INTEGER PRIMARY KEY, purchase INTEGER NOT NULL REFERENCES purchases (pid), reason TEXT);
"""


def make_shop(n_users: int = 150, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    seg = rng.choice(["basic", "vip"], n_users, p=[0.7, 0.3])
    users = pd.DataFrame({"id": np.arange(1, n_users + 1), "segment": seg, "age": rng.integers(18, 80, n_users),
                          "joined": pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 300, n_users), "D")})
    rows = []
    for uid, s, joined in zip(users.id, seg, users.joined):
        day = joined + pd.Timedelta(days=int(rng.integers(1, 60)))
        for _ in range(min(rng.poisson(3 if s == "vip" else 1.5), 6)):
            rows.append((uid, day, round(float(rng.lognormal(4 if s == "vip" else 3, 0.3)), 2), rng.choice(["web", "shop"])))
            day += pd.Timedelta(days=int(rng.integers(0, 30)))
    purchases = pd.DataFrame(rows, columns=["buyer", "day", "amt", "channel"])
    purchases.insert(0, "pid", np.arange(1000, 1000 + len(purchases)))
    back = purchases.sample(frac=0.2, random_state=seed)
    returns = pd.DataFrame({"rid": np.arange(1, len(back) + 1), "purchase": back["pid"].to_numpy(),
                            "reason": rng.choice(["size", "damaged", "late"], len(back))})
    return {"users": users, "purchases": purchases, "returns": returns}


def _rows(df: pd.DataFrame) -> list[tuple]:
    out = df.astype(object).where(df.notna(), None)
    for c in df.columns:
        if df[c].dtype.kind == "M":
            out[c] = df[c].dt.date
    return [tuple(v.item() if isinstance(v, np.generic) else v for v in r) for r in out.itertuples(index=False)]


def fill(execute, executemany, tables: dict[str, pd.DataFrame], ddl: str = SHOP_DDL, mark: str = "?") -> None:
    for stmt in filter(str.strip, ddl.split(";")):
        execute(stmt)
    for name, df in tables.items():
        executemany(f"INSERT INTO {name} VALUES ({', '.join([mark] * len(df.columns))})", _rows(df))


def sqlite_db(path: Path, tables: dict[str, pd.DataFrame], ddl: str = SHOP_DDL) -> str:
    with sqlite3.connect(path) as con:
        fill(con.execute, con.executemany, tables, ddl)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory):
    tables = make_shop()
    return tables, sqlite_db(tmp_path_factory.mktemp("src") / "shop.db", tables)


@pytest.fixture(scope="module")
def shop_model(shop_db):
    tables, url = shop_db
    return lookalike.train(tables=url, **FAST)


# --- URLs, types, errors ----------------------------------------------------------------------

@pytest.mark.parametrize("url, shown", [
    ("postgresql://ann:pw@db:5432/shop", "postgresql://ann:***@db:5432/shop"),
    ("postgresql+psycopg://ann:p%40ss@db/shop?sslmode=require", "postgresql+psycopg://ann:***@db/shop?sslmode=require"),
    ("postgresql://ann@db/shop?password=pw&x=1", "postgresql://ann@db/shop?password=***&x=1"),
    ("sqlite:///shop.db", "sqlite:///shop.db"),
])
def test_passwords_are_masked(url, shown):
    assert mask_url(url) == shown


@pytest.mark.parametrize("declared, generic", [
    ("INTEGER", "integer"), ("BIGINT", "integer"), ("NUMERIC(10, 2)", "decimal"), ("DOUBLE PRECISION", "float"),
    ("VARCHAR(20)", "text"), ("DATE", "date"), ("TIMESTAMP WITHOUT TIME ZONE", "timestamp"),
    ("TIMESTAMP WITH TIME ZONE", "timestamptz"), ("BOOLEAN", "boolean"), ("INTERVAL", "other"), ("JSONB", "other"),
    ("INTEGER[]", "other"), ("", "any"),
])
def test_declared_types_map_to_portable_kinds(declared, generic):
    assert generic_type(declared) == generic


def test_database_url_is_not_a_file_path(tmp_path):
    r = CliRunner().invoke(app, ["train", f"sqlite:///{tmp_path}/missing.db", "--out", str(tmp_path / "m.lookalike")])
    assert r.exit_code == 1
    assert "database file" in r.output and "missing.db" in r.output and "sqlite:////" in r.output
    r = CliRunner().invoke(app, ["train", "mysql://ann:pw@db/shop", "--out", str(tmp_path / "m.lookalike")])
    assert r.exit_code == 1 and "postgresql://" in r.output and ":pw@" not in r.output


def test_unknown_table_in_tables_names_it_and_the_choices(shop_db, tmp_path):
    r = CliRunner().invoke(app, ["train", shop_db[1], "--tables", "users,orders", "--out", str(tmp_path / "m.lookalike")])
    assert r.exit_code == 1
    assert "unknown table(s) 'orders'" in r.output and "users, purchases, returns" in r.output


def test_missing_driver_names_the_extra():
    """The import fails for real (the module is blocked in a fresh interpreter), not a stand-in."""
    code = ("import sys; sys.modules['sqlalchemy'] = None; sys.modules['duckdb'] = None\n"
            "from lookalike.db import read_database, DatabaseError\n"
            "for url in ('postgresql://ann:pw@127.0.0.1:1/shop', 'duckdb:///x.duckdb'):\n"
            "    try: read_database(url)\n"
            "    except DatabaseError as e: print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'lookalike[postgres]'" in out and "pip install 'lookalike[duckdb]'" in out
    assert ":pw@" not in out and "ann:***@" in out


# --- SQLite: read the catalog, train, write back -------------------------------------------------

def test_catalog_gives_keys_and_types(shop_db):
    tables, url = shop_db
    source, frames = read_database(url)
    assert list(source.tables) == ["users", "purchases", "returns"]
    p = source.tables["purchases"]
    assert p.primary_key == ["pid"]
    assert [(f.columns, f.references, f.referenced_columns) for f in p.foreign_keys] == [(["buyer"], "users", ["id"])]
    assert [c.type for c in p.columns] == ["INTEGER", "INTEGER", "DATE", "NUMERIC(10, 2)", "VARCHAR(10)"]
    assert len(frames["returns"]) == len(tables["returns"])
    # dates as ISO text, as in a CSV file: the same path through the engine
    assert frames["purchases"]["day"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()


def test_sqlite_round_trip_keeps_names_types_and_constraints(shop_model, shop_db, tmp_path):
    tables, _ = shop_db
    g = shop_model
    assert g.layouts_["purchases"].parent == "users" and g.layouts_["purchases"].parent_fk == "buyer"
    assert g.layouts_["returns"].parent == "purchases" and g.layouts_["returns"].parent_fk == "purchase"
    out = tmp_path / "synth.db"
    syn = g.sample({"users": 80}, seed=2, out=f"sqlite:///{out}")
    with sqlite3.connect(out) as con:
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        info = {r[1]: (r[2], r[3], r[5]) for r in con.execute("PRAGMA table_info(purchases)")}
        assert info == {"pid": ("INTEGER", 1, 1), "buyer": ("INTEGER", 1, 0), "day": ("DATE", 0, 0),
                        "amt": ("NUMERIC(10, 2)", 0, 0), "channel": ("VARCHAR(10)", 0, 0)}
        fks = con.execute("PRAGMA foreign_key_list(returns)").fetchall()
        assert [(r[2], r[3], r[4]) for r in fks] == [("purchases", "purchase", "pid")]
        for name in tables:
            assert con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == len(syn[name])
        assert con.execute("SELECT count(*) FROM users").fetchone()[0] == 80
        # the declared constraints are enforced: a purchase of an unknown user is refused
        con.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(sqlite3.IntegrityError):
            con.execute("INSERT INTO purchases (pid, buyer) VALUES (-1, -12345)")
        day = pd.read_sql("SELECT buyer, day FROM purchases ORDER BY pid", con, parse_dates=["day"])
    assert (day.groupby("buyer")["day"].diff().dropna() >= pd.Timedelta(0)).all()


def test_existing_tables_are_refused_unless_replace(shop_model, tmp_path):
    url = f"sqlite:///{tmp_path / 'synth.db'}"
    shop_model.sample({"users": 20}, seed=1, out=url)
    with pytest.raises(DatabaseError, match=r"already has table\(s\) users, purchases, returns.*--replace"):
        shop_model.sample({"users": 30}, seed=1, out=url)
    shop_model.sample({"users": 30}, seed=1, out=url, replace=True)
    with sqlite3.connect(tmp_path / "synth.db") as con:
        assert con.execute("SELECT count(*) FROM users").fetchone()[0] == 30


def test_a_failed_write_leaves_nothing(shop_model, tmp_path):
    """A NOT NULL column receiving nulls fails mid-transaction: no table is left behind."""
    out = tmp_path / "synth.db"
    with sqlite3.connect(out) as con:
        con.execute("CREATE TABLE other (x INTEGER)")
    from lookalike.relational.writer import database_tables
    from lookalike.db import write_database

    syn = shop_model.sample({"users": 20}, seed=1)
    tables, kind = database_tables(syn, shop_model.layouts_, shop_model.source_)
    syn["returns"]["reason"] = None
    next(c for c in tables[-1].columns if c.name == "reason").nullable = False
    with pytest.raises(DatabaseError, match="nothing was written"):
        write_database(f"sqlite:///{out}", tables, syn, source_kind=kind)
    with sqlite3.connect(out) as con:
        assert [r[0] for r in con.execute("SELECT name FROM sqlite_master")] == ["other"]


def test_model_file_keeps_the_catalog_not_the_values(shop_model, shop_db, tmp_path):
    path = shop_model.save(tmp_path / "shop.lookalike")
    with zipfile.ZipFile(path) as z:
        meta = json.loads(z.read("meta.json"))
    source = meta["training"]["source"]
    assert source["kind"] == "sqlite" and list(source["tables"]) == ["users", "purchases", "returns"]
    assert "shop.db" not in json.dumps(meta)  # no URL, no path
    r = CliRunner().invoke(app, ["info", str(path)])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["source"] == {"kind": "sqlite", "schema": None, "tables": ["users", "purchases", "returns"]}


def test_cli_generate_to_a_database_and_a_schema_file_overrides(shop_db, tmp_path):
    tables, url = shop_db
    schema = {"tables": [{"name": "users", "types": {"age": "categorical"}}]}
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    runner = CliRunner()
    r = runner.invoke(app, ["train", url, "--tables", "users,purchases", "--config", str(tmp_path / "schema.json"),
                            "--out", str(tmp_path / "m.lookalike"), "--max-epochs", "1", "--seed", "0", "-q"])
    assert r.exit_code == 0, r.output
    assert "tables users, purchases from sqlite:///" in r.output
    g = lookalike.load(tmp_path / "m.lookalike")
    assert g.layouts_["users"].kinds["age"] == "categorical" and g.tables == ["users", "purchases"]
    out = f"sqlite:///{tmp_path / 'out.db'}"
    r = runner.invoke(app, ["generate", str(tmp_path / "m.lookalike"), "--out", out, "--size", "users=40", "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["generate", str(tmp_path / "m.lookalike"), "--out", out, "--size", "users=40", "-q"])
    assert r.exit_code == 1 and "--replace" in r.output
    r = runner.invoke(app, ["generate", str(tmp_path / "m.lookalike"), "--out", out, "--size", "users=40", "--replace"])
    assert r.exit_code == 0, r.output


# --- DuckDB ----------------------------------------------------------------------------------------

def test_duckdb_catalog_and_output(shop_model, shop_db, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    tables, _ = shop_db
    src = tmp_path / "shop.duckdb"
    with duckdb.connect(str(src)) as con:
        fill(con.execute, con.executemany, tables)
    source, frames = read_database(f"duckdb:///{src}")
    assert source.tables["returns"].foreign_keys[0].references == "purchases"
    assert source.tables["users"].primary_key == ["id"]
    pd.testing.assert_series_equal(frames["users"]["joined"], tables["users"]["joined"].dt.strftime("%Y-%m-%d"))
    out = tmp_path / "synth.duckdb"
    syn = shop_model.sample({"users": 30}, seed=3, out=f"duckdb:///{out}")
    with duckdb.connect(str(out)) as con:
        types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'purchases'")
                     .fetchall())
        # from SQLite: its 64-bit INTEGER is DuckDB's BIGINT; a decimal keeps precision and scale
        assert types == {"pid": "BIGINT", "buyer": "BIGINT", "day": "DATE", "amt": "DECIMAL(10,2)", "channel": "VARCHAR"}
        assert con.execute("SELECT count(*) FROM returns").fetchone()[0] == len(syn["returns"])
        with pytest.raises(duckdb.ConstraintException):
            con.execute("INSERT INTO purchases (pid, buyer) VALUES (-1, -12345)")


# --- PostgreSQL: a real server -----------------------------------------------------------------------

def _pg_bindir() -> Path | None:
    found = [shutil.which("pg_ctl")] + sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    for p in filter(None, found):
        d = Path(p).resolve().parent
        if (d / "initdb").exists():
            return d
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres():
    """A PostgreSQL server of our own: initdb in a temporary folder, pg_ctl start on a free
    loopback port (as the 'postgres' user when we are root: the server refuses root),
    password authentication over TCP; stopped and removed at the end."""
    bindir = _pg_bindir()
    missing = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql"
    try:
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError:
        missing = "psycopg/SQLAlchemy not installed: pip install 'lookalike[postgres]'"
        bindir = None
    if bindir is None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"{missing}; LOOKALIKE_REQUIRE_POSTGRES=1 makes this a failure", pytrace=False)
        pytest.skip(missing)
    root = Path(tempfile.mkdtemp(prefix="lookalike-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        import pwd

        user = "postgres" if any(p.pw_name == "postgres" for p in pwd.getpwall()) else "nobody"
        shutil.chown(root, user)
        as_user = ["runuser", "-u", user, "--"]
    (root / "pw").write_text(PASSWORD)
    if as_user:
        shutil.chown(root / "pw", as_user[2])
    data, port = root / "data", _free_port()
    subprocess.run(as_user + [str(bindir / "initdb"), "-D", str(data), "-U", "lookalike", "-E", "UTF8",
                              "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={root / 'pw'}"],
                   check=True, capture_output=True)
    ctl = as_user + [str(bindir / "pg_ctl"), "-D", str(data)]
    subprocess.run(ctl + ["-l", str(root / "log"), "-w", "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
                          "start"], check=True, capture_output=True)
    try:
        yield {"port": port, "base": f"postgresql://lookalike:{PASSWORD}@127.0.0.1:{port}"}
    finally:
        subprocess.run(ctl + ["-m", "fast", "-w", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def pg_database(pg: dict, name: str, tables: dict[str, pd.DataFrame] | None = None, ddl: str = SHOP_DDL) -> str:
    import psycopg

    with psycopg.connect(f"{pg['base']}/postgres", autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    if tables is not None:
        with psycopg.connect(f"{pg['base']}/{name}") as con, con.cursor() as cur:
            fill(cur.execute, cur.executemany, tables, ddl, mark="%s")
    return f"{pg['base']}/{name}"


def pg_query(url: str, sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url) as con:
        return con.execute(sql).fetchall()


def test_postgres_round_trip(postgres, shop_db, tmp_path, monkeypatch):
    import psycopg

    tables, _ = shop_db
    url = pg_database(postgres, "shop", tables)
    # the password from the environment, not the URL
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    no_password = url.replace(f":{PASSWORD}@", "@")
    g = lookalike.train(tables=no_password, **FAST)
    assert g.source_["kind"] == "postgresql" and g.source_["schema"] == "public"
    assert g.layouts_["returns"].parent_fk == "purchase"
    path = g.save(tmp_path / "shop.lookalike")
    with zipfile.ZipFile(path) as z:
        assert all(PASSWORD.encode() not in z.read(n) for n in z.namelist())
    out = no_password.rsplit("/", 1)[0] + "/shop_synth"  # does not exist yet: created
    r = CliRunner().invoke(app, ["generate", str(path), "--out", out, "--size", "users=60", "--seed", "1", "-q"])
    assert r.exit_code == 0, r.output
    syn_url = f"{postgres['base']}/shop_synth"
    types = dict(pg_query(syn_url, "SELECT column_name, data_type || coalesce('(' || numeric_precision || ',' || "
                                   "numeric_scale || ')', '') FROM information_schema.columns WHERE table_name = 'purchases' "
                                   "AND data_type = 'numeric' OR table_name = 'purchases' AND data_type <> 'numeric'"))
    assert types == {"pid": "integer(32,0)", "buyer": "integer(32,0)", "day": "date", "amt": "numeric(10,2)",
                     "channel": "character varying"}
    fks = pg_query(syn_url, "SELECT tc.table_name, kcu.column_name, ccu.table_name FROM information_schema.table_constraints tc "
                            "JOIN information_schema.key_column_usage kcu USING (constraint_name) "
                            "JOIN information_schema.constraint_column_usage ccu USING (constraint_name) "
                            "WHERE tc.constraint_type = 'FOREIGN KEY' ORDER BY 1")
    assert fks == [("purchases", "buyer", "users"), ("returns", "purchase", "purchases")]
    assert pg_query(syn_url, "SELECT count(*) FROM users") == [(60,)]
    assert pg_query(syn_url, "SELECT count(*) FROM purchases p LEFT JOIN users u ON p.buyer = u.id "
                             "WHERE u.id IS NULL") == [(0,)]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg_query(syn_url, "INSERT INTO returns (rid, purchase) VALUES (-1, -12345)")
    # an existing target is refused; a wrong password is reported without it
    r = CliRunner().invoke(app, ["generate", str(path), "--out", out, "-q"])
    assert r.exit_code == 1 and "already has table(s)" in r.output
    monkeypatch.delenv("PGPASSWORD")
    r = CliRunner().invoke(app, ["train", out.replace("lookalike@", "lookalike:wrong-Pw@"), "--out",
                                 str(tmp_path / "x.lookalike")])
    assert r.exit_code == 1 and "cannot be reached" in r.output
    assert "wrong-Pw" not in r.output and "lookalike:***@" in r.output


def test_unreachable_postgres_is_one_masked_line(tmp_path):
    pytest.importorskip("psycopg")
    url = f"postgresql://ann:{PASSWORD}@127.0.0.1:{_free_port()}/shop"
    r = CliRunner().invoke(app, ["train", url, "--out", str(tmp_path / "m.lookalike")])
    assert r.exit_code == 1 and r.output.count("\n") == 1
    assert "cannot be reached" in r.output and PASSWORD not in r.output and "ann:***@127.0.0.1" in r.output


def test_cdnow_through_postgres(postgres, tmp_path):
    """A sample of cdnow (users and their purchases) through the real server: keys declared,
    enforced, dates in order within every user, no dangling key."""
    import psycopg

    users = pd.read_csv(shared_file("cdnow", "users.csv.gz")).head(500)
    purchases = pd.read_csv(shared_file("cdnow", "purchases.csv.gz"), parse_dates=["date"])
    purchases = purchases[purchases.users_id.isin(users.id)].reset_index(drop=True)
    ddl = ("CREATE TABLE users (id INTEGER PRIMARY KEY); CREATE TABLE purchases (users_id INTEGER NOT NULL "
           "REFERENCES users (id), date DATE NOT NULL, cds INTEGER, amt NUMERIC(10, 2))")
    url = pg_database(postgres, "cdnow", {"users": users, "purchases": purchases}, ddl)
    g = lookalike.train(tables=url, **{**FAST, "max_epochs": 3})
    out = f"{postgres['base']}/cdnow_synth"
    syn = g.sample({"users": 500}, seed=1, out=out)
    assert pg_query(out, "SELECT count(*) FROM information_schema.table_constraints WHERE constraint_type = "
                         "'FOREIGN KEY' AND table_name = 'purchases'") == [(1,)]
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        pg_query(out, "INSERT INTO purchases (users_id, date) VALUES (-5, '2000-01-01')")
    assert pg_query(out, "SELECT count(*) FROM purchases p LEFT JOIN users u ON p.users_id = u.id "
                         "WHERE u.id IS NULL") == [(0,)]
    back = pd.DataFrame(pg_query(out, "SELECT users_id, date FROM purchases ORDER BY ctid"), columns=["users_id", "date"])
    assert len(back) == len(syn["purchases"]) and 0.5 < len(back) / len(purchases) < 2
    d = pd.to_datetime(back["date"])
    assert (d.groupby(back["users_id"]).diff().dropna() >= pd.Timedelta(0)).all()
