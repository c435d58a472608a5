"""Many rows at once: shards drawn by local worker processes (``workers``) or on a Ray
cluster (``ray``). One process writing one file (``Generator.sample``) stays the default.

The rows are cut into shards of ``shard_rows``. Shard ``i`` draws from its own streams,
seeded by ``SeedSequence([seed, i])``, and numbers its rows from its first one (keys go
on across shards), so the output is a function of the model, the options, the seed, the
row count and the shard size alone: the same in this process, in a process pool or on
any number of Ray machines. Each shard becomes one Parquet part, made in the worker and
sent back as bytes; this process writes the parts into a staging folder beside the target
and renames it into place once every shard is there, or removes it: a dataset is written
whole or not at all.

Related tables use the same runners with shards of subjects (``relational/shards.py``),
and train their tables' models as Ray tasks here (``train_on_ray``). One table's model
trains data-parallel on Ray Train (``fit_on_ray``): the rows cut into one shard per worker,
the same training loop in every worker, PyTorch DDP averaging the gradients.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import deque
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import __version__
from .controls import Controls
from .errors import ConfigError, InputError, LookalikeError
from .io import WRITE_SUFFIXES, _create_beside, _rename, _suffix

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa
    import torch

    from .generator import Generator

log = logging.getLogger(__name__)

DEFAULT_SHARD_ROWS = 100_000
RETRIES = 3  # a shard whose worker died is drawn again (a data-parallel training restarted) this many times before the run fails
PART = "part-{:05d}.parquet"
_PART_GLOB = "part-*.parquet"


# --- the plan ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Shard:
    """Rows ``start`` .. ``start + rows`` of the output, and the seed rows they keep, if any."""

    index: int
    start: int
    rows: int
    seed_data: pd.DataFrame | None = None


@dataclass(frozen=True)
class ShardJob:
    """What every shard of one run shares: the root seed, the validated controls (without
    seed rows: each shard carries its own), the sampling options and the parts' metadata."""

    root_seed: int
    controls: Controls
    temperature: float
    top_p: float
    metadata: dict[str, Any]


def plan(n: int, shard_rows: int, seed_data: pd.DataFrame | None = None) -> list[Shard]:
    """``n`` rows cut into shards of ``shard_rows`` (the last one shorter)."""
    shards = []
    for i, start in enumerate(range(0, n, shard_rows)):
        rows = min(shard_rows, n - start)
        seed = None if seed_data is None else seed_data.iloc[start : start + rows].reset_index(drop=True)
        shards.append(Shard(i, start, rows, seed))
    return shards


def shard_streams(root_seed: int, index: int) -> tuple[torch.Generator, np.random.Generator]:
    """Shard ``index``'s token stream (torch) and value stream (numpy), from (seed, index) alone."""
    import torch

    tokens, values = np.random.SeedSequence([root_seed, index]).spawn(2)
    gen = torch.Generator()
    gen.manual_seed(int(tokens.generate_state(1, np.uint64)[0]))
    return gen, np.random.default_rng(values)


# --- one shard: what a worker does ---------------------------------------------------------
def draw_part(g: Generator, job: ShardJob, shard: Shard) -> bytes:
    """Shard ``shard`` as the bytes of a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    gen, rng = shard_streams(job.root_seed, shard.index)
    controls = dataclasses.replace(job.controls, seed_data=shard.seed_data)
    batches = g.generate_batches(shard.rows, controls, gen, rng, job.temperature, job.top_p, first_row=shard.start)
    tables = unify([pa.Table.from_pandas(b, preserve_index=False) for b in batches])
    table = pa.concat_tables(tables)
    meta = dict(table.schema.metadata or {})
    meta[b"lookalike"] = json.dumps({**job.metadata, "shard": shard.index, "first_row": shard.start},
                                    default=str).encode()
    sink = pa.BufferOutputStream()
    pq.write_table(table.replace_schema_metadata(meta), sink)
    return sink.getvalue().to_pybytes()


def unify(tables: list[pa.Table]) -> list[pa.Table]:
    """The tables with one schema: a column all null in one table takes the others' type,
    numbers widen, and types that do not meet (numbers in one, ``_RARE_`` strings in another)
    become strings. A table whose types change loses its pandas metadata (it spoke of the
    old types); the others keep theirs."""
    common = common_schema([t.schema for t in tables])
    return [_cast(t, common) for t in tables]


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    if table.schema.equals(schema, check_metadata=False):
        return table
    meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"pandas"}
    return table.cast(schema).replace_schema_metadata(meta or None)


def common_schema(schemas: list[pa.Schema]) -> pa.Schema:
    import pyarrow as pa

    names = schemas[0].names
    if any(s.names != names for s in schemas):
        raise LookalikeError(f"shards came back with different columns ({names} vs others); this is a bug")
    fields = []
    for name in names:
        types = list(dict.fromkeys(s.field(name).type for s in schemas if s.field(name).type != pa.null()))
        if len(types) > 1:
            try:
                types = [pa.unify_schemas([pa.schema([(name, t)]) for t in types],
                                          promote_options="permissive").field(name).type]
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                types = [pa.string()]
        fields.append(pa.field(name, types[0] if types else pa.null()))
    return pa.schema(fields)


# --- the model in a worker: loaded once per process ---------------------------------------
_MODELS: dict[str, Generator] = {}


def model_blob(g: Generator) -> bytes:
    """The model file's bytes, which workers load from (written to a temporary file first
    when this generator has none, e.g. straight after training)."""
    if g._path is not None and Path(g._path).is_file():
        return Path(g._path).read_bytes()
    path = g._path
    with tempfile.TemporaryDirectory(prefix="lookalike-model-") as tmp:
        try:
            return g.save(Path(tmp) / "model.lookalike").read_bytes()
        finally:
            g._path = path


def _worker_model(key: str, blob: bytes | None = None, fetch=None) -> Any:
    """This worker process's copy of the model ``key`` (a ``Generator``, or a
    ``RelationalGenerator`` for a related-tables file): loaded on the first shard (from
    ``blob``, or ``fetch()``), on the CPU, with one torch thread, since the workers are
    the parallelism (this is the worker's own process, never the caller's)."""
    g = _MODELS.get(key)
    if g is None:
        import torch

        from .api import load

        torch.set_num_threads(1)
        blob = blob if blob is not None else fetch()
        with tempfile.TemporaryDirectory(prefix="lookalike-model-") as tmp:
            path = Path(tmp) / "model.lookalike"
            path.write_bytes(blob)
            g = load(path, device="cpu")
        _MODELS.clear()  # one model per worker: a new run's replaces the last
        _MODELS[key] = g
    return g


def _pool_init(key: str, blob: bytes) -> None:
    _worker_model(key, blob)


def _pool_part(key: str, job: ShardJob, shard: Shard) -> tuple[int, bytes]:
    return shard.index, draw_part(_worker_model(key), job, shard)


def _ray_part(key: str, blob_ref: list, job: ShardJob, shard: Shard) -> tuple[int, bytes]:
    import ray

    g = _worker_model(key, fetch=lambda: ray.get(blob_ref[0]))  # the ref sits in a list: fetched on a miss only
    return shard.index, draw_part(g, job, shard)


# --- runners: each yields (shard index, part bytes) as shards finish ------------------------
def _run_here(g: Generator, job: ShardJob, shards: list[Shard]) -> Iterator[tuple[int, bytes]]:
    for s in shards:
        yield s.index, draw_part(g, job, s)


def _run_pool(key: str, blob: bytes, job: Any, shards: list[Any], workers: int,
              part=_pool_part) -> Iterator[tuple[int, Any]]:
    """A local pool of ``workers`` processes ('spawn': nothing of this process's state is
    copied but the model's bytes), each shard drawn by ``part(key, job, shard)``. A worker
    that dies (killed, out of memory) breaks the pool: a new one draws the unfinished
    shards again, up to RETRIES times."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    todo: deque[Shard] = deque(shards)
    failures = 0
    while todo:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_pool_init, initargs=(key, blob))
        pending: dict[Any, Shard] = {}
        try:
            while todo or pending:
                while todo and len(pending) < 2 * workers:  # a few queued: workers never wait
                    s = todo.popleft()
                    pending[pool.submit(part, key, job, s)] = s
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for f in sorted(done, key=lambda f: pending[f].index):
                    result = f.result()
                    del pending[f]
                    yield result
        except BrokenProcessPool:
            failures += 1
            if failures > RETRIES:
                raise LookalikeError(f"a worker process died {failures} times (out of memory? killed? in a script "
                                 "of your own, is sample(workers=...) under `if __name__ == '__main__':`?); "
                                 "try fewer workers or smaller shard rows") from None
            log.warning("a worker process died; drawing %d unfinished shard(s) again (retry %d of %d)",
                        len(pending), failures, RETRIES)
            todo.extendleft(sorted(pending.values(), key=lambda s: s.index, reverse=True))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _run_ray(key: str, blob: bytes, job: Any, shards: list[Any], workers: int | None,
             address: str | None, part=_ray_part) -> Iterator[tuple[int, Any]]:
    """Ray tasks, one per shard (``part(key, [blob ref], job, shard)``, one CPU each), at
    most ``workers`` at a time (default: twice the cluster's CPUs, so none waits). A task
    whose worker or machine dies is run again by Ray (``max_retries``); an error raised by
    the shard itself is not (it would raise again) and ends the run."""
    pending: dict[Any, int] = {}
    with _ray_session(address):
        import ray

        try:
            task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(part)
            blob_ref = ray.put(blob)
            width = workers or max(1, 2 * int(ray.cluster_resources().get("CPU", 1)))
            todo = deque(shards)
            while todo or pending:
                while todo and len(pending) < width:
                    s = todo.popleft()
                    pending[task.remote(key, [blob_ref], job, s)] = s.index
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                del pending[ref]
                yield _ray_result(ref, "draw a shard")
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)


@contextmanager
def _ray_session(address: str | None) -> Iterator[None]:
    """Ray, started on this machine (or joined at ``address``) for the call and shut down
    after it, unless the caller had started it already."""
    try:
        import ray
    except ImportError:
        raise ConfigError("ray=True needs Ray: pip install 'lookalike[ray]'") from None
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, logging_level=logging.WARNING, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        if started:
            ray.shutdown()


def _ray_result(ref: Any, what: str) -> Any:
    """A finished task's result; the task's own LookalikeError as itself, and one naming
    the step when Ray gave up on the task (its worker or machine died too often)."""
    import ray
    from ray.exceptions import RayError, RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as exc:  # the task's own error, as raised in the worker
        cause = getattr(exc, "cause", None)
        if isinstance(cause, LookalikeError):
            raise cause from None
        raise
    except RayError as exc:  # its worker or machine died more than max_retries times
        raise LookalikeError(f"Ray could not {what} after {RETRIES} retries: {type(exc).__name__}: {exc}") from None


# --- training: related tables' models as Ray tasks ------------------------------------------
def _train_model(frame: pd.DataFrame, options: dict[str, Any]) -> bytes:
    """One table's flat model, trained in a Ray worker with one torch thread (the tables
    are the parallelism), sent back as the bytes of its model file (no real rows)."""
    import torch

    from .table import train_table

    torch.set_num_threads(1)
    g = train_table(frame, **options)
    g.training_sample_, g.holdout_ = None, None
    with tempfile.TemporaryDirectory(prefix="lookalike-model-") as tmp:
        return g.save(Path(tmp) / "model.lookalike").read_bytes()


def train_on_ray(jobs: dict[str, tuple[pd.DataFrame, dict[str, Any]]],
                 address: str | None = None) -> dict[str, Generator]:
    """``train_table(frame, **options)`` for every ``name: (frame, options)``, as Ray tasks
    of one CPU each, all submitted at once (the largest first); the models come back in
    ``jobs``' order, loaded from the model files the tasks send back. A task
    whose worker dies is run again (``RETRIES``); an error raised by training ends the call."""
    from tqdm.auto import tqdm

    from .generator import Generator

    with _ray_session(address):
        import ray

        task = ray.remote(num_cpus=1, max_retries=RETRIES, retry_exceptions=False)(_train_model)
        # the biggest tables first, so that the small ones fill in beside them (not last, alone)
        biggest = sorted(jobs, key=lambda n: -jobs[n][0].size)
        submitted = {name: task.remote(*jobs[name]) for name in biggest}
        refs = {name: submitted[name] for name in jobs}
        try:
            models = {}
            with tempfile.TemporaryDirectory(prefix="lookalike-model-") as tmp, \
                    tqdm(total=len(refs), desc="training tables on Ray", unit="table", leave=False,
                         disable=not any(o.get("progress") for _, o in jobs.values())) as bar:
                for name in list(refs):
                    ref = refs.pop(name)
                    path = Path(tmp) / f"{len(models)}.lookalike"
                    path.write_bytes(_ray_result(ref, f"train table '{name}'"))
                    models[name] = Generator.load(path, device=jobs[name][1].get("device", "auto"))
                    bar.update(1)
            return models
        finally:
            for ref in refs.values():
                ray.cancel(ref, force=True)


# --- training: one table's model, data-parallel on Ray Train (PyTorch DDP) --------------------
MIN_WORKER_ROWS = 64  # without ray_workers: no more workers than leave each this many rows per step


@dataclass(frozen=True)
class DataParallel:
    """``train(..., ray=True)`` for one table: ``workers`` (None: one per CPU of the cluster,
    or per GPU with ``device="cuda"``, at most one per ``MIN_WORKER_ROWS`` rows of a step)
    and the cluster's ``address`` (None: Ray started on this machine for the call)."""

    workers: int | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        w = self.workers
        if w is not None and (not isinstance(w, (int, np.integer)) or isinstance(w, bool) or w < 1):
            raise ConfigError(f"ray_workers must be a positive number of workers, got {w!r}")
        try:
            import ray.train.torch  # noqa: F401
        except ImportError:
            raise ConfigError("ray=True needs Ray Train: pip install 'lookalike[ray]'") from None


class _Mailbox:
    """An actor the driver owns, where rank 0 leaves each epoch's progress and, at the end,
    the best weights: nothing needs storage shared between the machines."""

    def __init__(self) -> None:
        self.epochs: list[Any] = []
        self.outcome: tuple[dict, Any] | None = None
        self.starts = 0  # rank 0's starts: more than one when Ray Train restarted the workers

    def start(self) -> None:
        self.starts += 1

    def restarts(self) -> int:
        return max(self.starts - 1, 0)

    def progress(self, p: Any) -> None:
        self.epochs.append(p)

    def finish(self, state: dict, result: Any) -> None:
        self.outcome = (state, result)

    def take(self) -> tuple[list[Any], tuple[dict, Any] | None]:
        epochs, self.epochs = self.epochs, []
        return epochs, self.outcome


def _worker_seed(root: int, rank: int) -> int:
    return int(np.random.SeedSequence([root, rank]).generate_state(1, np.uint64)[0] >> np.uint64(2))


def _fit_worker(job: dict[str, Any]) -> None:
    """One Ray Train worker: ``training.fit_rows`` on this worker's shard, with DDP averaging
    the gradients and ``_Workers`` the decisions; rank 0 mails the best weights home."""
    import time

    import ray
    import ray.train
    import torch

    from .training import fit_rows

    ctx = ray.train.get_context()
    rank, size = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(1)  # the workers are the parallelism
    device = torch.device("cpu")
    if job["config"].device == "cuda":  # this worker's GPU ("cuda" is then that one)
        from ray.train.torch import get_device

        device = get_device()
        torch.cuda.set_device(device)
    model = ray.get(job["model"])
    trn, val = (np.array(a) for a in ray.get(job["shards"][rank]))  # writable copies of the shared shard
    box = job["box"]
    if rank == 0:
        ray.get(box.start.remote())
    seed = _worker_seed(job["root_seed"], rank)
    gen = torch.Generator()
    gen.manual_seed(seed)
    spent = job["spent"] + max(time.time() - job["sent"], 0.0)  # the time to start the workers counts too
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # dropout's draws
        result = fit_rows(model, trn, val, job["config"], gen, box.progress.remote if rank == 0 else None,
                          job["context"], spent, _Workers(rank, size, device))
    if rank == 0:
        ray.get(box.finish.remote({k: v.cpu() for k, v in model.state_dict().items()}, result))


class _Workers:
    """``training.Peers`` for the workers of one Ray Train run (torch.distributed is set up
    by Ray Train: gloo on CPUs, NCCL on GPUs)."""

    def __init__(self, rank: int, size: int, device: Any):
        self.rank, self.size, self.device = rank, size, device

    def loss_fn(self, model: Any) -> Any:
        """The model's loss behind DistributedDataParallel, which averages the gradients of
        every step over the workers (the network has no ``forward``: a wrapper gives it one)."""
        import inspect

        import torch
        from torch.nn.parallel import DistributedDataParallel

        class Loss(torch.nn.Module):
            def __init__(self, model: torch.nn.Module):
                super().__init__()
                self.model = model

            def forward(self, tokens, ranks, weights):
                return self.model.loss(tokens, ranks, weights)

        ids = [self.device] if self.device.type == "cuda" else None
        # the buffers are constants (no syncing them at every step); every step uses the same parameters
        newer = "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters  # torch >= 2.13
        quiet = {"forward_sync_buffers": False} if newer else {"broadcast_buffers": False}
        return DistributedDataParallel(Loss(model), device_ids=ids, static_graph=True, **quiet)

    def reduce(self, values: list[float], op: str = "sum") -> list[float]:
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t, op={"sum": dist.ReduceOp.SUM, "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}[op])
        return t.tolist()


def fit_on_ray(model: Any, tokens: np.ndarray, config: Any, gen: torch.Generator, on_progress=None,
               context: list[int] | None = None, spent: float = 0.0,
               plan: DataParallel | None = None) -> tuple[Any, dict[str, Any]]:
    """``training.fit`` with Ray Train: the rows split here as ``fit`` splits them (training
    and validation, the heads started at the marginals), each split cut into one shard per
    worker, and ``fit_rows`` run by every worker on its shards with the model in DDP. The
    best weights come back into ``model``; returns the ``TrainResult`` and what to record
    of the run (workers, CPUs each, device). Progress (the bar, ``on_progress``) is rank 0's,
    shown here."""
    import time

    import torch

    from .training import auto_batch_size, prepare

    t0 = time.monotonic()
    plan = plan or DataParallel()
    trn, val = prepare(model, tokens, gen)
    root_seed = int(torch.randint(2**62, (1,), generator=gen))
    use_gpu = config.device == "cuda"
    with _ray_session(plan.address):
        import ray
        from ray.train import FailureConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchConfig, TorchTrainer

        have = ray.cluster_resources()
        cpus, gpus = float(have.get("CPU", 0)), int(have.get("GPU", 0))
        if use_gpu and not gpus:
            raise ConfigError("device='cuda' with ray=True: the Ray cluster has no GPU; leave device out (the "
                              "workers then train on CPUs) or join a cluster with GPUs (ray_address)")
        step = min(config.batch_size or auto_batch_size(len(trn)), len(trn))  # rows of a step, over all workers
        workers = plan.workers or max(1, min(gpus if use_gpu else int(cpus) or 1, step // MIN_WORKER_ROWS))
        if workers > step:
            log.warning("ray_workers=%d: a step has %d rows; training with %d workers", workers, step, step)
            workers = step
        # one CPU each (a fraction of one where the cluster has fewer CPUs than workers)
        per_worker = {"CPU": min(1.0, cpus / workers) if cpus else 1.0, **({"GPU": 1} if use_gpu else {})}
        box = ray.remote(num_cpus=0)(_Mailbox).remote()
        job = {"config": config.model_copy(update={"progress": False, "device": "cuda" if use_gpu else "cpu"}),
               "model": ray.put(model.cpu()), "context": context, "root_seed": root_seed, "box": box,
               "shards": [ray.put(part) for part in zip(np.array_split(trn, workers), np.array_split(val, workers))],
               "spent": spent + time.monotonic() - t0, "sent": time.time()}
        with tempfile.TemporaryDirectory(prefix="lookalike-ray-train-") as storage:
            trainer = TorchTrainer(
                _fit_worker, train_loop_config=job,
                scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu, resources_per_worker=per_worker),
                torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
                # a worker that dies (killed, its machine lost) restarts the group: the training
                # starts again with the budget that is left (no checkpoints: the weights are small)
                run_config=RunConfig(name="lookalike-train", storage_path=storage,
                                     failure_config=FailureConfig(max_failures=RETRIES)))
            outcome = _fit_and_follow(trainer, box, config, workers, on_progress)
            restarts = ray.get(box.restarts.remote())
        state, result = outcome
    model.load_state_dict(state)
    model.eval()
    about = {"backend": "ray_train_ddp", "workers": workers, "cpus_per_worker": per_worker["CPU"],
             "device": result.device, **({"restarts": restarts} if restarts else {})}
    if restarts:
        log.warning("a Ray Train worker died: the training restarted %d time(s) and completed", restarts)
    log.info("trained %d epochs in %.1fs on %d Ray workers (best epoch %d, val loss %.4f, stopped by %s)",
             result.epochs, result.seconds, workers, result.best_epoch, result.best_val_loss, result.stopped_by)
    return result, about


def _fit_and_follow(trainer: Any, box: Any, config: Any, workers: int, on_progress) -> tuple[dict, Any]:
    """``trainer.fit()`` (in a thread), while this one shows rank 0's epochs as they come
    (the progress bar, ``on_progress``); returns what rank 0 mailed at the end."""
    import threading

    import ray
    from tqdm.auto import tqdm

    from .training import show_progress

    done: dict[str, Any] = {}

    def run() -> None:
        try:
            trainer.fit()
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            done["error"] = exc

    thread = threading.Thread(target=run, name="lookalike-ray-train", daemon=True)
    thread.start()
    with tqdm(total=config.max_epochs, desc=f"training on {workers} Ray workers", unit="epoch",
              disable=not config.progress, leave=False) as bar:
        while True:
            thread.join(timeout=0.5)
            epochs, outcome = ray.get(box.take.remote())
            for p in epochs:
                show_progress(bar, p)
                if on_progress:
                    on_progress(p)
            if not thread.is_alive():
                break
    if "error" in done:
        exc = done["error"]
        cause = _worker_error(exc)
        if cause is not None:
            raise cause from None
        failures = list(getattr(exc, "worker_failures", {}).values())
        what = str(failures[0] if failures else exc).strip().splitlines() or [""]
        raise LookalikeError(f"Ray Train could not train the model: {type(exc).__name__}: {what[-1]}") from None
    if outcome is None:
        raise LookalikeError("Ray Train finished without the trained weights from its first worker; this is a bug")
    return outcome


def _worker_error(exc: BaseException) -> LookalikeError | None:
    """The LookalikeError a worker raised, if that is what ended the run."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, LookalikeError):
            return e
        stack += [e.__cause__, getattr(e, "cause", None), *getattr(e, "worker_failures", {}).values()]
    return None


# --- the output folder ----------------------------------------------------------------------
def is_folder(out: str | os.PathLike[str]) -> bool:
    """An output is a folder when it is one, ends with a separator, or has no file suffix."""
    text = os.fspath(out)
    p = Path(text)
    return p.is_dir() or text.endswith(("/", os.sep)) or (not p.suffix and _suffix(p) not in WRITE_SUFFIXES)


def sharded(out, workers: int, shard_rows: int | None, ray: bool, ray_address: str | None) -> bool:
    """Whether ``sample``'s options ask for shards (a folder out, workers, a shard size or
    Ray); raises ConfigError for options that do not go together."""
    if not isinstance(workers, (int, np.integer)) or isinstance(workers, bool) or workers < 1:
        raise ConfigError(f"workers must be a positive number of processes, got {workers!r}")
    if shard_rows is not None and (not isinstance(shard_rows, (int, np.integer)) or isinstance(shard_rows, bool)
                                   or shard_rows < 1):
        raise ConfigError(f"shard_rows must be a positive number of rows, got {shard_rows!r}")
    if ray_address is not None and not ray:
        raise ConfigError("ray_address (--ray-address) needs ray=True (--ray)")
    asked = ray or workers > 1 or shard_rows is not None
    if out is None:
        if asked:
            raise ConfigError("workers, shard_rows and ray write a folder of Parquet parts; pass out='big/' "
                              "(--out big/)")
        return False
    if is_folder(out):
        return True
    if asked:
        raise ConfigError(f"output '{out}': workers, shard rows and Ray write a folder of Parquet parts "
                          f"(part-00000.parquet, ...); pass a folder such as --out {Path(out).with_suffix('')}/")
    return False


def _check_target(target: Path) -> None:
    """Refuse, before any work, a target that is a file, that holds other files than a
    previous run's parts, or whose folder does not exist or takes no new files."""
    if target.exists() and not target.is_dir():
        raise InputError(f"output '{target}': it is a file; pass a folder for the parts")
    if target.is_dir():
        other = [f.name for f in target.iterdir() if not f.match(_PART_GLOB)]
        if other:
            raise InputError(f"output '{target}': the folder holds other files ({', '.join(sorted(other)[:3])}); "
                             "pass a new or empty folder (a previous run's parts are replaced)")
    if not target.parent.exists():
        raise InputError(f"output '{target}': folder {target.parent} does not exist; create it first")


def write_parts(staging: _Staging, parts: Iterator[tuple[int, Any]], shards: int, progress: bool) -> Path:
    """Write each shard's part as it arrives (a progress bar over shards), then move the
    staged folder into place; returns it."""
    from tqdm.auto import tqdm

    with closing(parts), tqdm(total=shards, desc="generating", unit="shard", disable=not progress,
                              leave=False) as bar:
        for index, data in parts:
            staging.write(index, data)
            bar.update(1)
    return staging.finish()


class _Staging:
    """A hidden folder beside the target that the parts go into; renamed onto the target at
    the end (a previous run's parts there are replaced), removed on any failure."""

    def __init__(self, target: Path):
        self.target = target
        self.path = _create_beside(target, lambda p: os.mkdir(p, 0o777))

    def write(self, index: int, data: bytes) -> None:
        try:
            (self.path / PART.format(index)).write_bytes(data)
        except OSError as exc:
            raise InputError(f"output '{self.target}': cannot write it: {exc.strerror or exc}") from None

    def finish(self) -> Path:
        self._unify()
        old = None
        if self.target.is_dir() and any(self.target.iterdir()):  # a previous run's parts (checked at the start)
            old = _create_beside(self.target, lambda p: os.mkdir(p, 0o777))
            _rename(self.target, old)  # set aside, then removed once the new parts are in place
        _rename(self.path, self.target)  # onto an empty folder, too
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.target

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def _unify(self) -> None:
        _unify_parts(sorted(self.path.glob(_PART_GLOB)))


def _unify_parts(parts: list[Path]) -> None:
    """Give every part one schema (see ``unify``), so the folder reads as one dataset; only
    parts whose types differ are rewritten, which is rare (a column all null in a shard)."""
    import pyarrow.parquet as pq

    schemas = [pq.read_schema(p) for p in parts]
    common = common_schema(schemas)
    for p, s in zip(parts, schemas):
        if not s.equals(common, check_metadata=False):
            pq.write_table(_cast(pq.read_table(p), common), p)


# --- the entry point ----------------------------------------------------------------------
def generate_shards(g: Generator, n: int, controls: Controls, out: str | os.PathLike[str], *, seed: int | None,
                    temperature: float, top_p: float, workers: int = 1, shard_rows: int | None = None,
                    ray: bool = False, ray_address: str | None = None, progress: bool = False) -> Path:
    """``n`` rows into the folder ``out`` as Parquet parts of ``shard_rows`` rows, drawn
    here (``workers=1``), by a local process pool, or as Ray tasks. Returns the folder."""
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0):
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    target = Path(out)
    _check_target(target)
    shard_rows = int(shard_rows or DEFAULT_SHARD_ROWS)
    # without a seed the run still has one root, drawn here once and kept in every part's metadata
    root = int(seed) if seed is not None else int(np.random.SeedSequence().entropy)
    meta = {"lookalike_version": __version__, "rows": n, "seed": seed, "root_seed": root, "shard_rows": shard_rows,
            "temperature": temperature, "top_p": top_p, **controls.describe(), "model_training": g.training_}
    job = ShardJob(root, dataclasses.replace(controls, seed_data=None), temperature, top_p, meta)
    shards = plan(n, shard_rows, controls.seed_data)
    staging = _Staging(target)
    try:
        if ray or workers > 1:
            blob = model_blob(g)
            key = hashlib.sha256(blob).hexdigest()
            parts: Iterator[tuple[int, bytes]] = (
                _run_ray(key, blob, job, shards, workers if workers > 1 else None, ray_address) if ray
                else _run_pool(key, blob, job, shards, workers))
        else:
            parts = _run_here(g, job, shards)
        return write_parts(staging, parts, len(shards), progress)
    finally:
        staging.remove()
