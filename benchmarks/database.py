"""Databases in and out, measured.

    python benchmarks/database.py berka [--seconds 120]   # berka's 8 tables: SQLite -> train -> SQLite
    python benchmarks/database.py read [--rows 1000000]   # peak RSS of reading one large SQLite table

``berka`` loads ``../shared/data/berka`` into a SQLite file with its primary and foreign keys
declared (``build_berka``), trains with ``lookalike train sqlite:///berka.db`` (no schema file:
every table and relation from the catalog), generates into ``sqlite:///synth.db`` and checks
``PRAGMA foreign_key_check``, table and column names, and row counts against the source.
``read`` writes a table of ``--rows`` rows and reads it with ``lookalike.db.read_database`` in a
fresh process, printing its peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SHARED = Path(os.environ.get("LOOKALIKE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))

# berka's keys, from ../shared/data/README.md: table -> (primary key, {column: referenced table})
BERKA_KEYS = {
    "district": ("district_id", {}),
    "account": ("account_id", {"district_id": "district"}),
    "client": ("client_id", {"district_id": "district"}),
    "disposition": ("disposition_id", {"client_id": "client", "account_id": "account"}),
    "card": ("card_id", {"disposition_id": "disposition"}),
    "loan": ("loan_id", {"account_id": "account"}),
    "orders": ("orders_id", {"account_id": "account"}),
    "transaction": ("transaction_id", {"account_id": "account"}),
}


def _sql_type(s: pd.Series) -> str:
    if s.dtype.kind in "iu":
        return "INTEGER"
    if s.dtype.kind == "f":
        return "REAL"
    v = s.dropna().astype(str)
    if len(v) and v.str.fullmatch(r"\d{4}-\d{2}-\d{2}").all():
        return "DATE"
    return "TEXT"


def build_sqlite(path: Path, tables: dict[str, pd.DataFrame], keys: dict[str, tuple[str, dict[str, str]]]) -> str:
    """A SQLite file with ``tables``, their primary and foreign keys declared; parents first."""
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as con:
        for name, (pk, fks) in keys.items():
            df = tables[name]
            cols = [f'"{c}" {_sql_type(df[c])}{" PRIMARY KEY" if c == pk else ""}' for c in df.columns]
            cols += [f'FOREIGN KEY ("{c}") REFERENCES "{ref}" ("{keys[ref][0]}")' for c, ref in fks.items()]
            con.execute(f'CREATE TABLE "{name}" ({", ".join(cols)})')
            rows = df.astype(object).where(df.notna(), None).itertuples(index=False, name=None)
            con.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(df.columns))})', rows)
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    return f"sqlite:///{path}"


def build_berka(path: Path) -> str:
    tables = {n: pd.read_csv(SHARED / "berka" / f"{n}.csv.gz", low_memory=False) for n in BERKA_KEYS}
    return build_sqlite(path, tables, BERKA_KEYS)


def berka(seconds: float, workdir: Path) -> None:
    url = build_berka(workdir / "berka.db")
    model, synth = workdir / "berka.lookalike", workdir / "synth.db"
    synth.unlink(missing_ok=True)
    t0 = time.monotonic()
    subprocess.run(["lookalike", "train", url, "--out", str(model), "--max-training-time", str(seconds),
                    "--seed", "0", "--quiet"], check=True)
    t1 = time.monotonic()
    import lookalike

    # subject (root) tables at the source's size; the model decides every child table's size
    src = sqlite3.connect(workdir / "berka.db")
    roots = [n for n, lay in lookalike.load(model, device="cpu").layouts_.items() if lay.parent is None]
    counts = {n: src.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in roots}
    sizes = [f"--size={n}={k}" for n, k in counts.items()]
    print("subject tables:", " ".join(sizes))
    subprocess.run(["lookalike", "generate", str(model), "--out", f"sqlite:///{synth}", "--seed", "1", "--quiet",
                    *sizes], check=True)
    t2 = time.monotonic()
    syn = sqlite3.connect(synth)
    print(f"train {t1 - t0:.0f}s (budget {seconds:.0f}s), generate + write {t2 - t1:.1f}s")
    print(f"PRAGMA foreign_key_check: {syn.execute('PRAGMA foreign_key_check').fetchall()}")
    declared = syn.execute("SELECT count(*) FROM sqlite_master m, pragma_foreign_key_list(m.name)").fetchone()[0]
    print(f"foreign keys declared in synth.db: {declared}")
    print(f"{'table':<12} {'source rows':>11} {'synthetic':>10} {'ratio':>6}  same columns")
    for name in BERKA_KEYS:
        n_src = src.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        n_syn = syn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
        cols = [[r[1] for r in con.execute(f'PRAGMA table_info("{name}")')] for con in (src, syn)]
        print(f"{name:<12} {n_src:>11} {n_syn:>10} {n_syn / n_src:>6.3f}  {cols[0] == cols[1]}")


def read(rows: int, workdir: Path) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"id": np.arange(rows), "age": rng.integers(18, 90, rows), "amount": rng.lognormal(3, 1, rows),
                       "segment": rng.choice(["basic", "silver", "gold", "vip"], rows),
                       "day": (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, rows), "D"))
                       .strftime("%Y-%m-%d"),
                       "city": rng.choice([f"city-{i}" for i in range(300)], rows)})
    url = build_sqlite(workdir / "big.db", {"events": df}, {"events": ("id", {})})
    size = (workdir / "big.db").stat().st_size
    del df
    code = ("import resource, time; from lookalike.db import read_database; t = time.monotonic(); "
            f"s, f = read_database({url!r}); "
            "print(f'{len(f[\"events\"]):,} rows read in {time.monotonic() - t:.1f}s, peak RSS '"
            "f'{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB')")
    print(f"SQLite file {size / 1e6:.0f} MB")
    subprocess.run([sys.executable, "-c", code], check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["berka", "read"])
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args()
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="lookalike-db-"))
    berka(a.seconds, workdir) if a.what == "berka" else read(a.rows, workdir)
    print(f"(files in {workdir}; peak RSS of this process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB)")


if __name__ == "__main__":
    main()
