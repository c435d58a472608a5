"""Describing related tables: table specs, foreign keys, schema files, and validation.

A schema is a list of tables, each with its data, an optional primary key and foreign
keys. A child has at most one *context* foreign key (to the parent that owns its rows);
further foreign keys are plain references. Everything is checked once, here, and every
problem names the table, the column and the fix.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import LookalikeError
from ..io import read_table

log = logging.getLogger(__name__)


class RelationalError(LookalikeError):
    """Related tables are described inconsistently (unknown tables/columns, cycles, bad keys)."""

    def __init__(self, problems: list[str] | str):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        msg = self.problems[0] if len(self.problems) == 1 else (
            f"{len(self.problems)} problems: " + "; ".join(self.problems))
        super().__init__(msg)


class ForeignKey(BaseModel):
    """``column`` of this table holds primary keys of table ``references``."""

    model_config = ConfigDict(extra="forbid")
    column: str
    references: str
    context: bool = False


class TableSpec(BaseModel):
    """One table of a schema. ``data`` is a DataFrame or a CSV/Parquet path; it is never saved."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    name: str
    data: Any = Field(default=None, exclude=True)
    primary_key: str | None = None
    foreign_keys: list[ForeignKey] | None = None  # None: propose obvious ones
    order_by: str | None = None  # None: the first date column, else the input order
    types: dict[str, str] = Field(default_factory=dict)

    @property
    def context_key(self) -> ForeignKey | None:
        return next((fk for fk in self.foreign_keys or [] if fk.context), None)

    @property
    def plain_keys(self) -> list[ForeignKey]:
        return [fk for fk in self.foreign_keys or [] if not fk.context]


def parse_tables(tables: Any) -> tuple[list[TableSpec], dict[str, Any]]:
    """Turn a dict/list of table specs, or a YAML/JSON schema file, into ``TableSpec``s.

    Returns (specs, options): a schema file may carry training options under ``options``.
    """
    options: dict[str, Any] = {}
    base = Path(".")
    if isinstance(tables, (str, os.PathLike)):
        path = Path(tables)
        if not path.exists():
            raise RelationalError(f"schema file '{path}' not found; check the path")
        text = path.read_text()
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                try:
                    import yaml
                except ImportError:  # pragma: no cover
                    raise RelationalError("reading a YAML schema needs pyyaml: pip install pyyaml (or use JSON)") from None
                doc = yaml.safe_load(text)
            else:
                doc = json.loads(text)
        except RelationalError:
            raise
        except Exception as exc:
            raise RelationalError(f"schema file '{path}' cannot be parsed: {exc.__class__.__name__}: {exc}") from None
        if not isinstance(doc, dict) or "tables" not in doc:
            raise RelationalError(f"schema file '{path}': expected a mapping with a 'tables' list (and optional 'options')")
        options = dict(doc.get("options") or {})
        tables = doc["tables"]
        base = path.parent
    if isinstance(tables, dict):
        items = []
        for name, spec in tables.items():
            if isinstance(spec, pd.DataFrame):
                spec = {"data": spec}
            items.append({"name": name, **dict(spec)})
        tables = items
    if not isinstance(tables, (list, tuple)) or not tables:
        raise RelationalError("tables: expected a non-empty list (or dict) of table specs, e.g. "
                              "[{'name': 'users', 'data': df, 'primary_key': 'id'}]")
    specs = []
    for i, t in enumerate(tables):
        if isinstance(t, TableSpec):
            specs.append(t)
            continue
        try:
            spec = TableSpec(**dict(t))
        except (ValidationError, TypeError) as exc:
            name = t.get("name", f"#{i}") if isinstance(t, dict) else f"#{i}"
            raise RelationalError(f"table '{name}': invalid spec: {exc}".replace("\n", " ")) from None
        if isinstance(spec.data, (str, os.PathLike)) and not Path(spec.data).is_absolute():
            spec.data = str(base / spec.data)
        specs.append(spec)
    return specs, options


def load_frames(specs: list[TableSpec]) -> dict[str, pd.DataFrame]:
    """Read every table's data (DataFrame or path)."""
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RelationalError(f"table name(s) {dupes} appear more than once; give every table a unique name")
    frames = {}
    for s in specs:
        if s.data is None:
            raise RelationalError(f"table '{s.name}': no data; pass data=DataFrame or a CSV/Parquet path")
        frames[s.name] = read_table(s.data, s.name).reset_index(drop=True)
    return frames


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") else name


LOOKUP_MAX_ROWS = 1_000  # a proposed parent this small ...
LOOKUP_MIN_FANOUT = 20  # ... with this many rows per key in each referencing table is a lookup


def propose_keys(specs: list[TableSpec], frames: dict[str, pd.DataFrame],
                 declared: dict[str, list[tuple[str, str]]] | None = None) -> None:
    """Fill in obvious keys where the spec leaves them open: a unique ``id`` or ``<table>_id``
    column is the primary key; ``<other table>_id`` columns are foreign keys, the first one
    the context key unless it points to a *lookup* table. Explicit settings are never changed.
    ``declared`` (table -> [(column, referenced table)], a database catalog's foreign keys)
    takes the place of the name-based guesses for the tables it names; lookup tables and
    context keys are decided the same way.

    A lookup (dimension) table is small (< LOOKUP_MAX_ROWS rows), has no keys of its own
    pointing elsewhere, and is referenced with many rows per key (>= LOOKUP_MIN_FANOUT) by
    tables that are subjects in their own right: referenced by two or more tables, or by a
    table that is itself referenced (berka's 77 districts behind 4,500 accounts and 5,369
    clients). Owning those rows would make a few dozen draws decide every table's size;
    as a plain reference the referencing tables are subjects, sized by the user."""
    for s in specs:
        df = frames[s.name]
        if s.primary_key is None:
            for cand in ("id", f"{s.name}_id", f"{_singular(s.name)}_id"):
                if cand in df.columns and df[cand].notna().all() and df[cand].is_unique:
                    s.primary_key = cand
                    log.info("table '%s': using '%s' as primary key", s.name, cand)
                    break
    found: dict[str, list[tuple[str, str]]] = {}  # table -> [(column, referenced table)]
    for s in specs:
        found[s.name] = []
        if declared is not None and s.name in declared:
            found[s.name] = list(declared[s.name])
            continue
        for col in frames[s.name].columns:
            if col == s.primary_key:
                continue
            for other in specs:
                if other.name == s.name or other.primary_key is None:
                    continue
                if col in (f"{other.name}_id", f"{_singular(other.name)}_id") or (
                        col == other.primary_key and col.endswith("_id")):
                    found[s.name].append((col, other.name))
                    break
    refs = {s.name: [fk.references for fk in s.foreign_keys] if s.foreign_keys is not None
            else [t for _, t in found[s.name]] for s in specs}
    referrers = {s.name: [n for n, ts in refs.items() if s.name in ts] for s in specs}
    lookups = set()
    for s in specs:
        users = referrers[s.name]
        n = len(frames[s.name])
        if not users or refs[s.name] or n >= LOOKUP_MAX_ROWS:
            continue
        fanout = min(len(frames[u]) / max(n, 1) for u in users)
        if fanout >= LOOKUP_MIN_FANOUT and (len(users) >= 2 or any(referrers[u] for u in users)):
            lookups.add(s.name)
    for s in specs:
        if s.foreign_keys is not None:
            continue
        fks: list[ForeignKey] = []
        for col, other in found[s.name]:
            context = other not in lookups and not any(f.context for f in fks)
            fks.append(ForeignKey(column=col, references=other, context=context))
        s.foreign_keys = fks
        if fks:
            log.info("table '%s': proposed foreign keys %s", s.name,
                     ", ".join(f"{f.column} -> {f.references}{' (context)' if f.context else ''}" for f in fks))
        for f in fks:
            if f.references in lookups:
                log.info("table '%s': '%s' is a lookup table (%d rows, many rows per key); '%s' references it "
                         "without being owned by it (set context: true on the key to change that)",
                         s.name, f.references, len(frames[f.references]), f.column)


def validate(specs: list[TableSpec], frames: dict[str, pd.DataFrame], drop_orphans: bool = False) -> dict[str, int]:
    """Check keys and relations; gather every problem and raise once.

    Orphaned foreign keys (values not among the referenced table's keys) are an error
    unless ``drop_orphans``: then the rows holding them are dropped (and rows of their
    context children, in cascade) and the counts are returned and logged.
    """
    by_name = {s.name: s for s in specs}
    problems: list[str] = []
    for s in specs:
        cols = list(frames[s.name].columns)
        if s.primary_key is not None:
            if s.primary_key not in cols:
                problems.append(f"table '{s.name}': primary key '{s.primary_key}' is not a column; columns are {cols[:20]}")
            else:
                pk = frames[s.name][s.primary_key]
                if pk.isna().any():
                    problems.append(f"table '{s.name}', column '{s.primary_key}': primary key has {int(pk.isna().sum())} "
                                    "null value(s); drop those rows or choose another key")
                dup = pk[pk.duplicated() & pk.notna()]
                if len(dup):
                    problems.append(f"table '{s.name}', column '{s.primary_key}': primary key has {len(dup)} duplicate "
                                    f"value(s) (e.g. {dup.iloc[0]!r}); keys must be unique: deduplicate or choose another key")
        if s.order_by is not None and s.order_by not in cols:
            problems.append(f"table '{s.name}': order_by '{s.order_by}' is not a column; columns are {cols[:20]}")
        for c in s.types:
            if c not in cols:
                problems.append(f"table '{s.name}': types names unknown column '{c}'")
        contexts = [fk for fk in s.foreign_keys or [] if fk.context]
        if len(contexts) > 1:
            problems.append(f"table '{s.name}': {len(contexts)} context foreign keys "
                            f"({[f.column for f in contexts]}); a table has at most one (its owner); "
                            "set context: false on the others")
        for fk in s.foreign_keys or []:
            if fk.column not in cols:
                problems.append(f"table '{s.name}': foreign key column '{fk.column}' is not a column; columns are {cols[:20]}")
            if fk.references not in by_name:
                problems.append(f"table '{s.name}', column '{fk.column}': references unknown table '{fk.references}'; "
                                f"tables are {list(by_name)}")
            elif by_name[fk.references].primary_key is None:
                problems.append(f"table '{s.name}', column '{fk.column}': referenced table '{fk.references}' has no "
                                "primary key; set primary_key on it")
            if fk.references == s.name:
                problems.append(f"table '{s.name}', column '{fk.column}': self-references are not supported; drop the key")
    if problems:
        raise RelationalError(problems)
    cycle = find_cycle(specs)
    if cycle:
        raise RelationalError(f"foreign keys form a cycle: {' -> '.join(cycle)}; make one of them a plain column "
                              "(remove it from foreign_keys) so tables can be generated one after another")
    return _check_orphans(specs, frames, drop_orphans)


def find_cycle(specs: list[TableSpec]) -> list[str] | None:
    """A cycle of references (context or plain), as table names, or None."""
    edges = {s.name: [fk.references for fk in s.foreign_keys or [] if fk.references != s.name] for s in specs}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(t: str) -> list[str] | None:
        state[t] = 1
        stack.append(t)
        for u in edges.get(t, []):
            if state.get(u) == 1:
                return stack[stack.index(u):] + [u]
            if state.get(u) is None:
                found = visit(u)
                if found:
                    return found
        stack.pop()
        state[t] = 2
        return None

    for s in specs:
        if s.name not in state:
            found = visit(s.name)
            if found:
                return found
    return None


def dependency_order(deps: dict[str, set[str]]) -> list[str]:
    """The one topological sort: names ordered so that each comes after everything it
    depends on; ties keep the given order. Cycles are rejected earlier (``find_cycle``)."""
    done: list[str] = []
    while len(done) < len(deps):
        ready = [n for n in deps if n not in done and deps[n] <= set(done)]
        if not ready:
            raise RelationalError(f"cyclic table dependencies among {sorted(set(deps) - set(done))}")
        done.extend(ready)
    return done


def generation_order(specs: list[TableSpec]) -> list[str]:
    """Tables ordered so that every referenced table comes before the tables referencing it."""
    names = {s.name for s in specs}
    return dependency_order({s.name: {fk.references for fk in s.foreign_keys or []} & names for s in specs})


@dataclass(frozen=True)
class Link:
    """A table's context parent: ``column`` holds the key ``parent_key`` of table ``parent``."""

    parent: str
    column: str
    parent_key: str | None


def context_links(specs: list[TableSpec]) -> dict[str, Link | None]:
    by_name = {s.name: s for s in specs}
    return {s.name: None if s.context_key is None else
            Link(s.context_key.references, s.context_key.column, by_name[s.context_key.references].primary_key)
            for s in specs}


def _check_orphans(specs: list[TableSpec], frames: dict[str, pd.DataFrame], drop: bool) -> dict[str, int]:
    by_name = {s.name: s for s in specs}
    dropped: dict[str, int] = {}
    problems = []
    for name in generation_order(specs):  # parents first, so cascades reach children
        s = by_name[name]
        df = frames[name]
        bad = pd.Series(False, index=df.index)
        for fk in s.foreign_keys or []:
            ref = frames[fk.references][by_name[fk.references].primary_key]
            col = df[fk.column]
            orphan = col.notna() & ~col.isin(ref)
            if orphan.any():
                if not drop:
                    problems.append(
                        f"table '{name}', column '{fk.column}': {int(orphan.sum())} of {len(df)} rows reference keys "
                        f"missing from '{fk.references}' (e.g. {col[orphan].iloc[0]!r}); fix the data or pass "
                        "drop_orphans=True to drop those rows")
                bad |= orphan
        if drop and bad.any():
            dropped[name] = int(bad.sum())
            frames[name] = df[~bad].reset_index(drop=True)
            log.warning("table '%s': dropped %d row(s) with orphaned foreign keys", name, int(bad.sum()))
    if problems:
        raise RelationalError(problems)
    return dropped


_SAFE = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_table_names(specs: list[TableSpec]) -> None:
    """Table names become file names inside the model file and in outputs."""
    bad = [s.name for s in specs if not _SAFE.match(s.name)]
    if bad:
        raise RelationalError(f"table name(s) {bad}: use letters, digits, '_', '.' or '-' only")


def database_specs(url: str, include: list[str] | None = None, db_schema: str | None = None,
                   overrides: Any = None) -> tuple[list[TableSpec], dict[str, Any], Any]:
    """A database's tables as table specs: primary and foreign keys from its catalog, then
    the same key proposals as for files (lookup tables, the context key; names only when
    the catalog declares no foreign key at all). ``overrides`` (a schema file, or specs as
    for ``tables=``) changes the settings of the tables it names. Returns (specs, options
    of the schema file, the catalog's ``DbSource``). Composite keys, and keys to tables not
    read, are modelled as plain columns (logged)."""
    from ..db import read_database

    source, frames = read_database(url, include, db_schema)
    specs: dict[str, TableSpec] = {}
    declared: dict[str, list[tuple[str, str]]] = {}
    for name, t in source.tables.items():
        pk = t.primary_key[0] if len(t.primary_key) == 1 else None
        if len(t.primary_key) > 1:
            log.info("table '%s': composite primary key %s is modelled as plain columns", name, t.primary_key)
        position = {c.name: i for i, c in enumerate(t.columns)}
        fks = []
        for fk in t.foreign_keys:
            ref = source.tables.get(fk.references)
            why = ("is composite" if len(fk.columns) != 1 else
                   f"references table '{fk.references}', which is not read (add it to --tables)" if ref is None else
                   "references its own table" if fk.references == name else
                   f"references {fk.referenced_columns}, not the primary key of '{fk.references}'"
                   if fk.referenced_columns != ref.primary_key or len(ref.primary_key) != 1 else None)
            if why:
                log.info("table '%s': foreign key %s %s; modelled as plain column(s)", name, fk.columns, why)
            else:
                fks.append((fk.columns[0], fk.references))
        declared[name] = sorted(fks, key=lambda f: position.get(f[0], 0))
        specs[name] = TableSpec(name=name, data=frames[name], primary_key=pk)
    options: dict[str, Any] = {}
    if overrides is not None:
        given, options = parse_tables(overrides)
        for o in given:
            if o.name not in specs:
                raise RelationalError(f"schema: table '{o.name}' is not among the tables read from the database "
                                      f"({', '.join(specs)}); fix the name or add it to --tables")
            for f in o.model_fields_set - {"name"}:
                setattr(specs[o.name], f, getattr(o, f))
            if o.data is not None:
                frames[o.name] = read_table(o.data, o.name)
    propose_keys(list(specs.values()), frames, declared if any(declared.values()) else None)
    return list(specs.values()), options, source
