"""Writing a set of generated tables: a folder of files, a database file, or a database
URL, all or nothing. Databases get typed tables with primary and foreign keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ConfigError
from ..io import atomic_path


DATABASE_SUFFIXES = (".sqlite", ".db", ".sqlite3", ".duckdb")


def write_tables(outputs: dict[str, pd.DataFrame], out: str | os.PathLike[str], *, layouts: dict[str, Any] | None = None,
                 source: dict[str, Any] | None = None, replace: bool = False) -> Path | str:
    """Write every table: one file per table into a folder (CSV; Parquet when the folder
    name ends in ``parquet``), one database file (``.sqlite``/``.db``, or ``.duckdb`` with
    the ``duckdb`` extra), or a database URL (``postgresql://``, ``sqlite:///``,
    ``duckdb:///``). All or nothing: files are written aside and moved into place
    together; a database gets every table in one transaction.

    In a database, tables are created parents first with the source's column types (the
    model file's ``source``, when it was trained on a database; else from the columns'
    dtypes), the primary keys and the foreign keys of ``layouts``. An existing table of
    the same name in a URL target is refused unless ``replace``."""
    from ..db import is_database_url, write_database

    if is_database_url(out):
        tables, kind = database_tables(outputs, layouts, source)
        write_database(str(out), tables, outputs, source_kind=kind, replace=replace)
        return str(out)
    target = Path(out)
    if not target.parent.exists():
        raise ConfigError(f"out '{target}': folder {target.parent} does not exist; create it first")
    suffix = target.suffix.lower()
    if suffix in DATABASE_SUFFIXES:  # a fresh file, written aside and renamed into place
        scheme = "duckdb" if suffix == ".duckdb" else "sqlite"
        tables, kind = database_tables(outputs, layouts, source)
        with atomic_path(target) as tmp:
            tmp.unlink(missing_ok=True)
            write_database(f"{scheme}:///{tmp.resolve()}", tables, outputs, source_kind=kind)
        return target
    if target.exists() and not target.is_dir():
        raise ConfigError(f"out '{target}' is a file; pass a folder (one file per table) or a .sqlite/.duckdb file")
    from ..io import atomic_dir, write_table

    fmt = "parquet" if target.name.endswith("parquet") else "csv"
    with atomic_dir(target) as staging:
        for name, df in outputs.items():
            write_table(df, staging / f"{name}.{fmt}")
    return target


def database_tables(outputs: dict[str, pd.DataFrame], layouts: dict[str, Any] | None,
                    source: dict[str, Any] | None) -> tuple[list, str | None]:
    """(``DbTable``s parents first, the source database's kind): each table's columns with
    the source's declared type and NOT NULL (else the portable type of its dtype), its
    primary key and the foreign keys the generator keeps resolving."""
    from ..db import DbColumn, DbForeignKey, DbSource, DbTable, frame_generic
    from .layout import generation_order_from

    src = DbSource.from_json(source) if source else None
    order = generation_order_from(layouts) if layouts else list(outputs)
    tables = []
    for name in order:
        df, lay = outputs[name], (layouts or {}).get(name)
        declared = src.tables.get(name) if src else None
        columns = []
        for c in df.columns:
            d = declared.column(c) if declared else None
            nonnull = lay is not None and c in lay.nonnull and not df[c].isna().any()
            generic = d.generic if d and d.generic != "any" else frame_generic(df[c])  # untyped: by its values
            columns.append(DbColumn(c, d.type if d else "", generic, d.nullable or not nonnull if d else True))
        t = DbTable(name, columns)
        if lay is not None:
            pk = {n: layouts[n].primary_key for n in layouts}
            t.primary_key = [lay.primary_key] if lay.primary_key else []
            refs = ([(lay.parent_fk, lay.parent)] if lay.parent else []) + [(r.column, r.references) for r in lay.plain_refs]
            t.foreign_keys = [DbForeignKey([col], ref, [pk[ref]]) for col, ref in refs if pk.get(ref)]
        tables.append(t)
    return tables, src.kind if src else None
