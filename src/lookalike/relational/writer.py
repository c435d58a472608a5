"""Writing a set of generated tables: a folder of files or one database file, all or nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from ..io import atomic_path


DATABASE_SUFFIXES = (".sqlite", ".db", ".sqlite3", ".duckdb")


def write_tables(outputs: dict[str, pd.DataFrame], out: str | os.PathLike[str]) -> Path:
    """Write every table: one file per table into a folder (CSV; Parquet when the folder
    name ends in ``parquet``), or one database file (``.sqlite``/``.db``, or ``.duckdb``
    with the ``duckdb`` extra). All or nothing: the tables are written aside first and
    moved into place together, so a failure leaves no half-written set behind."""
    target = Path(out)
    if not target.parent.exists():
        raise ConfigError(f"out '{target}': folder {target.parent} does not exist; create it first")
    suffix = target.suffix.lower()
    if suffix in DATABASE_SUFFIXES:
        if suffix == ".duckdb":
            try:
                import duckdb
            except ImportError:
                raise ConfigError("writing a DuckDB file needs duckdb: pip install 'lookalike[duckdb]' "
                                  "(or write .sqlite, or a folder)") from None
        with atomic_path(target) as tmp:
            tmp.unlink(missing_ok=True)
            if suffix == ".duckdb":
                con = duckdb.connect(str(tmp))
                try:
                    for name, df in outputs.items():
                        con.register("frame", df)
                        con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM frame')
                        con.unregister("frame")
                finally:
                    con.close()
            else:
                import sqlite3

                con = sqlite3.connect(tmp)
                try:
                    for name, df in outputs.items():
                        df.to_sql(name, con, index=False)
                    con.commit()
                finally:
                    con.close()
        return target
    if target.exists() and not target.is_dir():
        raise ConfigError(f"out '{target}' is a file; pass a folder (one file per table) or a .sqlite/.duckdb file")
    from ..io import atomic_dir, write_table

    fmt = "parquet" if target.name.endswith("parquet") else "csv"
    with atomic_dir(target) as staging:
        for name, df in outputs.items():
            write_table(df, staging / f"{name}.{fmt}")
    return target
