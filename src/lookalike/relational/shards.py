"""Related tables in shards of subjects: each shard draws a slice of every subject (root)
table with all their descendants — whole subjects with their histories — through the
ordinary ``TableSampler``, here, in local worker processes or as Ray tasks (the runners
of ``distributed.py``). The output is a folder with one Parquet dataset per table,
``out/<table>/part-00000.parquet``, ...

Shard ``i`` draws from streams seeded by ``SeedSequence([seed, i])`` and numbers its keys
from its own blocks (``KeyBlocks``): keys are unique across shards and in the model's
format, references point inside the shard (so none dangles), and the output depends on the
model, the options, the seed, the subject counts and the shard size alone, never on how
many workers drew it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import __version__
from ..distributed import (DEFAULT_SHARD_ROWS, PART, _PART_GLOB, _run_pool, _run_ray, _Staging, _unify_parts,
                           _worker_model, model_blob, write_parts)
from ..errors import ConfigError, InputError
from .keys import KeyBlocks
from .sampling import TableSampler

if TYPE_CHECKING:  # pragma: no cover
    from .generator import RelationalGenerator


@dataclass(frozen=True)
class SubjectShard:
    """Shard ``index``: ``sizes[root]`` subjects of each subject table, with their descendants."""

    index: int
    sizes: dict[str, int]


@dataclass(frozen=True)
class TablesJob:
    """What every shard of one run shares: the root seed, how keys are dealt out, the
    sampling options and the parts' metadata."""

    root_seed: int
    shards: int
    block: int
    temperature: float
    top_p: float
    metadata: dict[str, Any]


def plan_subjects(sizes: dict[str, int], shard_rows: int) -> tuple[list[SubjectShard], int]:
    """Every subject table cut into the same number of shards (as even as can be), enough
    that none holds more than ``shard_rows`` subjects of the largest table, but never more
    than the smallest subject table has rows (each shard needs subjects of every table:
    references are filled inside the shard). Returns the shards and the key block size."""
    n_shards = max(1, min(-(-max(sizes.values()) // shard_rows), min(sizes.values())))
    bounds = {r: np.linspace(0, n, n_shards + 1).round().astype(np.int64) for r, n in sizes.items()}
    shards = [SubjectShard(i, {r: int(b[i + 1] - b[i]) for r, b in bounds.items()}) for i in range(n_shards)]
    block = max(max(s.sizes.values()) for s in shards)
    return shards, block


def draw_tables(rg: RelationalGenerator, job: TablesJob, shard: SubjectShard) -> dict[str, bytes]:
    """Shard ``shard``: every table as the bytes of a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sampler = TableSampler(rg.layouts_, rg.models_, KeyBlocks(shard.index, job.shards, job.block))
    outputs = sampler.generate(shard.sizes, [job.root_seed, shard.index], job.temperature, job.top_p)
    parts = {}
    for name, df in outputs.items():
        table = pa.Table.from_pandas(df, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"lookalike"] = json.dumps({**job.metadata, "table": name, "shard": shard.index,
                                         "subjects": shard.sizes}, default=str).encode()
        sink = pa.BufferOutputStream()
        pq.write_table(table.replace_schema_metadata(meta), sink)
        parts[name] = sink.getvalue().to_pybytes()
    return parts


def _pool_tables(key: str, job: TablesJob, shard: SubjectShard) -> tuple[int, dict[str, bytes]]:
    return shard.index, draw_tables(_worker_model(key), job, shard)


def _ray_tables(key: str, blob_ref: list, job: TablesJob, shard: SubjectShard) -> tuple[int, dict[str, bytes]]:
    import ray

    return shard.index, draw_tables(_worker_model(key, fetch=lambda: ray.get(blob_ref[0])), job, shard)


class _TablesStaging(_Staging):
    """The staging folder with one subfolder of parts per table."""

    def __init__(self, target: Path, tables: list[str]):
        super().__init__(target)
        for name in tables:
            (self.path / name).mkdir()

    def write(self, index: int, parts: dict[str, bytes]) -> None:  # type: ignore[override]
        try:
            for name, data in parts.items():
                (self.path / name / PART.format(index)).write_bytes(data)
        except OSError as exc:
            raise InputError(f"output '{self.target}': cannot write it: {exc.strerror or exc}") from None

    def _unify(self) -> None:
        for folder in self.path.iterdir():
            _unify_parts(sorted(folder.glob(_PART_GLOB)))


def _check_target(target: Path, tables: list[str]) -> None:
    """Refuse, before any work, a target that is a file, that holds anything but a previous
    run's table folders of parts, or whose folder does not exist."""
    if target.exists() and not target.is_dir():
        raise InputError(f"output '{target}': it is a file; pass a folder (one folder of Parquet parts per table)")
    if target.is_dir():
        other = [f.name for f in target.iterdir()
                 if not (f.is_dir() and f.name in tables and all(p.match(_PART_GLOB) for p in f.iterdir()))]
        if other:
            raise InputError(f"output '{target}': the folder holds other files ({', '.join(sorted(other)[:3])}); "
                             "pass a new or empty folder (a previous run's table folders are replaced)")
    if not target.parent.exists():
        raise InputError(f"output '{target}': folder {target.parent} does not exist; create it first")


def generate_table_shards(rg: RelationalGenerator, sizes: dict[str, int], out: str | os.PathLike[str], *,
                          seed: int | None, temperature: float, top_p: float, workers: int = 1,
                          shard_rows: int | None = None, ray: bool = False, ray_address: str | None = None,
                          progress: bool = False) -> Path:
    """Every table into the folder ``out`` (``out/<table>/part-*.parquet``), shards of
    about ``shard_rows`` subjects drawn here (``workers=1``), by a local process pool, or
    as Ray tasks. ``sizes``: every subject table's rows. Returns the folder."""
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    target = Path(out)
    _check_target(target, rg.tables)
    shard_rows = int(shard_rows or DEFAULT_SHARD_ROWS)
    root = int(seed) if seed is not None else int(np.random.SeedSequence().entropy)
    shards, block = plan_subjects(sizes, shard_rows)
    meta = {"lookalike_version": __version__, "subjects": sizes, "seed": seed, "root_seed": root,
            "shard_rows": shard_rows, "shards": len(shards), "temperature": temperature, "top_p": top_p}
    job = TablesJob(root, len(shards), block, temperature, top_p, meta)
    staging = _TablesStaging(target, rg.tables)
    try:
        if ray or workers > 1:
            blob = model_blob(rg)
            key = hashlib.sha256(blob).hexdigest()
            parts: Iterator[tuple[int, dict[str, bytes]]] = (
                _run_ray(key, blob, job, shards, workers if workers > 1 else None, ray_address, part=_ray_tables)
                if ray else _run_pool(key, blob, job, shards, workers, part=_pool_tables))
        else:
            parts = ((s.index, draw_tables(rg, job, s)) for s in shards)
        return write_parts(staging, parts, len(shards), progress)
    finally:
        staging.remove()
