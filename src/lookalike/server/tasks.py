"""The work of one job, run in its own process: train (one table or related tables),
generate or report.

Each task calls the public API only, writes into a private work folder, moves the
finished folder into place and then records the result in the same transaction that
marks the job succeeded. A job that fails, is cancelled or is interrupted leaves
nothing behind that the API would offer for download.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import signal
import sys
import threading
import time
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

from .store import Store, new_id

log = logging.getLogger("lookalike.server")

# Generation controls passed through to ``Generator.sample`` when the engine has them.
SAMPLE_CONTROLS = ("impute", "rebalance", "fairness")


class JobStopped(BaseException):
    """Raised inside a job when it must stop (cancelled, or the server went away)."""


class Paths:
    """Where each kind of file lives in the data dir; folders are named by ID only."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        self.root = Path(data_dir)
        self.db = self.root / "lookalike.db"

    def dir(self, kind: str, id: str) -> Path:
        return self.root / kind / id

    def work(self, job_id: str) -> Path:
        return self.root / "work" / job_id

    def dataset(self, row: dict) -> Path:
        return self.dir("datasets", row["id"]) / row["file"]

    def model(self, row: dict) -> Path:
        return self.dir("models", row["id"]) / row["file"]

    def output(self, row: dict) -> Path:
        return self.dir("outputs", row["id"]) / row["file"]

    def report(self, row: dict, suffix: str) -> Path:
        return self.dir("reports", row["id"]) / f"report.{suffix}"


def fork_jobs(server_pid: int) -> None:
    """Entry point of a runner's helper process (``runner.HELPER``). For each job on stdin
    (a JSON line) it forks a process that runs it, passes "stop"/"kill" on to it as
    SIGTERM/SIGKILL, and writes its exit code, a line, when it has ended."""
    import json

    import lookalike.api  # noqa: F401  (what every job needs, imported once)

    stdin = _Lines()
    while (line := stdin.next(None)) is not None:
        if line.startswith("{"):  # (not a "stop" that crossed the end of the last job)
            pid = os.fork()
            if pid == 0:
                _job_process(json.loads(line), server_pid)
            _answer(_wait_for(pid, stdin))


class _Lines:
    """Lines from stdin, one at a time, waiting at most a given time for one (a buffered
    reader could hold a line back from ``select``)."""

    def __init__(self) -> None:
        self.eof, self._buf = False, b""

    def next(self, timeout: float | None) -> str | None:
        """The next line; None when none came within ``timeout`` seconds, or at the end."""
        while b"\n" not in self._buf:
            if self.eof:
                time.sleep(timeout or 0)
                return None
            if not select.select([0], [], [], timeout)[0]:
                return None
            chunk = os.read(0, 65536)
            self.eof, self._buf = not chunk, self._buf + chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()


def _wait_for(pid: int, stdin: _Lines) -> int:
    signals = {"stop": signal.SIGTERM, "kill": signal.SIGKILL}
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        line = stdin.next(0.1)  # at the end of stdin (the server is gone) the job's watchdog stops it
        if line in signals:
            os.kill(pid, signals[line])


def _answer(code: int) -> None:
    try:
        os.write(1, f"{code}\n".encode())
    except BrokenPipeError:  # the server is gone
        os._exit(0)


def _job_process(order: dict[str, str], server_pid: int) -> None:
    """A forked job process: run the job, then leave without the helper's clean-up."""
    code = 1
    try:
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # the helper's pipes are not the job's
        os.dup2(2, 1)
        run_job(order["data_dir"], order["job_id"], order["runner"], server_pid)
        code = 0
    except BaseException:  # run_job records a job's failure itself; this is a failure around it
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def run_job(data_dir: str, job_id: str, runner: str, server_pid: int) -> None:
    """Run one job in this process and record its outcome."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    signal.signal(signal.SIGTERM, _stop)
    _stop_when_gone(server_pid)
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))  # leave a core to the API
    os.nice(10)  # background work: the API's requests come first when CPU is short
    paths = Paths(data_dir)
    store = Store(paths.db)
    job = store.get("jobs", job_id)
    work = paths.work(job_id)
    work.mkdir(parents=True, exist_ok=True)
    try:
        task = {"train": train_task, "train_tables": train_tables_task, "generate": generate_task,
                "report": report_task}[job["kind"]]
        task(store, paths, job, runner, work)
    except JobStopped:
        pass  # the runner records why (cancelled / server stopped)
    except Exception as exc:
        from lookalike.errors import LookalikeError

        if isinstance(exc, LookalikeError):
            message = str(exc)
        else:
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
            message = f"internal error: {exc.__class__.__name__}: {exc}"
        store.finish_job(job_id, runner, "failed", error=message)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stop(signum, frame):
    raise JobStopped()


def _stop_when_gone(server_pid: int, every: float = 1.0) -> None:
    """No job outlives its server or the process that started it (killed hard, they cannot
    stop us): a watchdog thread sends us SIGTERM when either is gone; the next start marks
    the job failed."""
    parent = os.getppid()

    def watch() -> None:
        while _alive(server_pid) and os.getppid() == parent:
            time.sleep(every)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="lookalike-watchdog", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed server not yet reaped by its parent is a zombie
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _phase(store: Store, job: dict, runner: str, phase: str, **extra: Any) -> None:
    if not store.set_progress(job["id"], runner, {"phase": phase, **extra}):
        raise JobStopped()


def _publish(store: Store, paths: Paths, job: dict, runner: str, work: Path, table: str, **row: Any) -> None:
    """Move the finished work folder into place and record it; undo if the job was
    cancelled in the meantime."""
    id = new_id()
    dest = paths.dir(table, id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(work, dest)
    recorded = False
    try:
        recorded = store.complete(job["id"], runner, table, id=id, job_id=job["id"], **row)
    finally:
        if not recorded:
            shutil.rmtree(dest, ignore_errors=True)


# --- the three tasks ------------------------------------------------------------------
def train_task(store: Store, paths: Paths, job: dict, runner: str, work: Path) -> None:
    import lookalike

    dataset = store.get("datasets", job["target_id"])
    if dataset is None:
        raise lookalike.errors.InputError(f"dataset {job['target_id']} was deleted before training started")
    params = job["params"]

    last: dict[str, Any] = {}

    def on_progress(p) -> None:
        last.update(asdict(p))
        _phase(store, job, runner, "training", **last)

    _phase(store, job, runner, "preparing")
    g = lookalike.train(paths.dataset(dataset), on_progress=on_progress, **{**params["options"], "progress": False})
    _phase(store, job, runner, "saving", **{**last, "eta": 0.0})  # the last epoch's figures stay visible
    g.save(work / "model.lookalike")
    _publish(store, paths, job, runner, work, "models",
             name=params.get("name") or dataset["name"], dataset_id=dataset["id"], file="model.lookalike",
             columns=[{"name": c.name, "kind": c.kind} for c in g.schema_.columns],
             training=g.training_, config=g.config_.model_dump(mode="json"), has_qa_data=1)


def train_tables_task(store: Store, paths: Paths, job: dict, runner: str, work: Path) -> None:
    """Related tables: the schema's datasets, keys as the schema (snapshot in the job) says."""
    import lookalike

    p = job["params"]
    specs = []
    for t in p["tables"]:
        dataset = store.get("datasets", t["dataset_id"])
        if dataset is None:
            raise lookalike.errors.InputError(f"table '{t['name']}': dataset {t['dataset_id']} was deleted before "
                                              "training started; upload it again and update the schema")
        specs.append({**{k: t[k] for k in ("name", "primary_key", "foreign_keys", "order_by", "types")},
                      "data": str(paths.dataset(dataset))})
    _phase(store, job, runner, "preparing")
    progress = _TablesProgress([t["name"] for t in p["tables"]],
                               lambda **state: _phase(store, job, runner, "training", **state))
    watched = logging.getLogger("lookalike")
    watched.addHandler(progress)
    watched.setLevel(min(watched.getEffectiveLevel(), logging.INFO))  # this job's process only
    try:
        g = lookalike.train(tables=specs, **{**p["options"], "progress": False})
    finally:
        watched.removeHandler(progress)
    progress.finish()
    _phase(store, job, runner, "saving", **progress.state())
    g.save(work / "model.lookalike")  # the real rows kept for QA go beside it, into the model's folder
    tables = model_tables(g)
    _publish(store, paths, job, runner, work, "models", name=p.get("name") or p.get("schema_name") or "related tables",
             kind="relational", dataset_id=None, schema_id=job["target_id"], file="model.lookalike",
             columns=[{"name": f"{t['name']}.{c['name']}", "kind": c["kind"]} for t in tables for c in t["columns"]],
             tables=tables, training=g.training_, config=g.config_.model_dump(mode="json"), has_qa_data=1)


class _TablesProgress(logging.Handler):
    """Progress per table, from what the engine logs: related-tables training logs each table
    as it starts ("training table 'purchases' (980 rows, ...)") and the flat trainer each
    table's end ("trained 2 epochs in 6.4s ..."); ``train_tables`` takes no ``on_progress``."""

    def __init__(self, names: list[str], report) -> None:
        super().__init__(logging.INFO)
        self.tables: dict[str, dict[str, Any]] = {n: {"state": "waiting"} for n in names}
        self.current: str | None = None
        self.report = report
        self.t0 = time.monotonic()

    def emit(self, record: logging.LogRecord) -> None:
        msg, args = str(record.msg), record.args if isinstance(record.args, tuple) else ()
        if record.name == "lookalike.relational.training" and msg.startswith("training table") and args:
            self.finish()
            self.current = str(args[0])
            self.tables[self.current] = {"state": "training", "rows": args[1] if len(args) > 1 else None}
        elif record.name == "lookalike.training" and msg.startswith("trained") and self.current and len(args) > 1:
            self.tables[self.current].update(state="done", epochs=args[0], seconds=round(float(args[1]), 1))
            self.current = None
        else:
            return
        self.report(**self.state())  # raises JobStopped when cancelled: training stops here

    def finish(self) -> None:
        if self.current is not None:
            self.tables[self.current]["state"] = "done"
            self.current = None

    def state(self) -> dict[str, Any]:
        return {"table": self.current, "tables": self.tables, "elapsed": round(time.monotonic() - self.t0, 1)}


def model_tables(g) -> list[dict[str, Any]]:
    """A related-tables model's tables as the API shows them (``schemas.ModelTable``)."""
    out = []
    for name in g.tables:
        lay = g.layouts_[name]
        out.append({"name": name, "rows": lay.rows, "primary_key": lay.primary_key, "parent": lay.parent,
                    "parent_fk": lay.parent_fk, "order_by": lay.order_by,
                    "references": [{"column": r.column, "references": r.references} for r in lay.plain_refs],
                    "columns": [{"name": c, "kind": lay.kinds.get(c, "")} for c in lay.columns]})
    return out


def generate_task(store: Store, paths: Paths, job: dict, runner: str, work: Path) -> None:
    import lookalike
    from lookalike.io import read_table

    model = store.get("models", job["target_id"])
    if model is None:
        raise lookalike.errors.InputError(f"model {job['target_id']} was deleted before generation started")
    p = job["params"]
    if model.get("kind") == "relational":
        return _generate_tables(store, paths, job, runner, work, model)
    _phase(store, job, runner, "loading model")
    g = lookalike.load(paths.model(model), device=p.get("device", "auto"))
    options: dict[str, Any] = {k: p[k] for k in SAMPLE_CONTROLS if p.get(k) is not None}
    rows = p.get("rows")
    if p.get("seed_dataset_id"):
        seed_ds = store.get("datasets", p["seed_dataset_id"])
        if seed_ds is None:
            raise lookalike.errors.InputError(f"seed dataset {p['seed_dataset_id']} was deleted")
        options["seed_data"] = read_table(paths.dataset(seed_ds), "seed data")
    _phase(store, job, runner, "generating")
    out = work / f"synthetic.{p.get('format', 'csv')}"
    g.sample(rows, seed=p.get("seed"), temperature=p.get("temperature", 1.0), top_p=p.get("top_p", 1.0),
             out=out, **options)
    n = _count_rows(out)
    _publish(store, paths, job, runner, work, "outputs", model_id=model["id"], file=out.name, rows=n, params=p)


TABLES_DIR = "tables.parquet"  # a related-tables output's tables as generated (typed): reports, conversions


def _generate_tables(store: Store, paths: Paths, job: dict, runner: str, work: Path, model: dict) -> None:
    """Related tables: every table, subject tables sized as asked; kept as Parquet (for the
    report) and offered as a zip of CSV or Parquet files, or as a SQLite file."""
    import lookalike
    from lookalike.relational.writer import write_tables

    p = job["params"]
    _phase(store, job, runner, "loading model")
    g = lookalike.load(paths.model(model), device=p.get("device", "auto"))
    _phase(store, job, runner, "generating")
    frames = g.sample(p.get("sizes") or None, seed=p.get("seed"), temperature=p.get("temperature", 1.0),
                      top_p=p.get("top_p", 1.0), out=work / TABLES_DIR)
    _phase(store, job, runner, "writing")
    fmt = p.get("format", "csv")
    if fmt == "sqlite":
        out = work / "synthetic.sqlite"
        write_tables(frames, out, layouts=g.layouts_, source=g.source_)
    else:
        out = tables_zip(work / TABLES_DIR, fmt, work / f"synthetic.{fmt}.zip")
    _publish(store, paths, job, runner, work, "outputs", model_id=model["id"], file=out.name,
             rows=sum(len(df) for df in frames.values()), tables={n: len(df) for n, df in frames.items()}, params=p)


def tables_zip(folder: Path, fmt: str, dest: Path) -> Path:
    """A zip with one file per table (``users.csv``, ...) from a folder of Parquet tables."""
    import tempfile
    import zipfile

    from lookalike.io import atomic_path, read_table, write_table

    with tempfile.TemporaryDirectory(dir=dest.parent) as tmpdir, atomic_path(dest) as tmp, \
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for f in sorted(folder.glob("*.parquet")):
            if fmt == "parquet":
                z.write(f, f.name)
            else:
                csv = write_table(read_table(f, f.stem), Path(tmpdir) / f"{f.stem}.csv")
                z.write(csv, csv.name)
    return dest


def report_task(store: Store, paths: Paths, job: dict, runner: str, work: Path) -> None:
    import lookalike
    from lookalike.errors import ConfigError
    from lookalike.generator import qa_sidecar
    from lookalike.io import read_table

    output = store.get("outputs", job["target_id"])
    model = store.get("models", output["model_id"]) if output else None
    if output is None or model is None:
        raise lookalike.errors.InputError("the output or its model was deleted before the report started")
    if model.get("kind") == "relational":
        return _report_tables(store, paths, job, runner, work, model, output)
    model_path = paths.model(model)
    train, holdout = qa_sidecar(model_path, "train"), qa_sidecar(model_path, "holdout")
    if not train.exists():
        raise ConfigError("this model has no QA data beside it (it was uploaded as a file, not trained here); "
                          "a QA report needs the real rows kept aside at training")
    p = job["params"]
    model_sample = None
    conditioned = any(output["params"].get(k) for k in (*SAMPLE_CONTROLS, "seed_dataset_id"))
    if conditioned:  # Model QA (unconditional sample) beside Data QA (the conditioned output)
        _phase(store, job, runner, "sampling for Model QA")
        g = lookalike.load(model_path)
        model_sample = g.sample(output["rows"], seed=0)
    _phase(store, job, runner, "scoring")
    # Excluded columns are in the QA tables but not in the output: score the output's columns.
    synthetic = read_table(paths.output(output), "synthetic")
    cols = list(synthetic.columns)
    train_df = read_table(train, "train")[cols]
    holdout_df = read_table(holdout, "holdout")[cols] if holdout.exists() else None
    metrics = lookalike.report(synthetic, train_df, holdout=holdout_df,
                               target=p.get("target"), out=work / "report.html", json_out=work / "report.json",
                               seed=p.get("seed", 0), model_sample=model_sample,
                               title=f"QA report: {model['name']}")
    summary = {
        "accuracy": round(metrics.accuracy.overall, 4),
        "reference_accuracy": round(metrics.accuracy.reference.overall, 4) if metrics.accuracy.reference else None,
        "dcr_share": metrics.privacy.dcr_share,
        "identical_share": metrics.privacy.identical_share,
        "discriminator_auc": metrics.discriminator.auc if metrics.discriminator else None,
        # what gives the synthetic data away most: {"column": ..., "auc": AUC of that column alone}
        "discriminator_top_column": next(({"column": c, "auc": a} for c, a in metrics.discriminator_columns.items()),
                                         None),
        "privacy_flag": metrics.privacy.flag,
        "model_qa": metrics.model is not None,
    }
    _publish(store, paths, job, runner, work, "reports", output_id=output["id"], model_id=model["id"], summary=summary)


def _report_tables(store: Store, paths: Paths, job: dict, runner: str, work: Path, model: dict, output: dict) -> None:
    """The related-tables QA report of a generated set of tables (``RelationalGenerator.report``)."""
    import lookalike
    from lookalike.io import read_table

    _phase(store, job, runner, "loading model")
    g = lookalike.load(paths.model(model))
    folder = paths.dir("outputs", output["id"]) / TABLES_DIR
    synthetic = {f.stem: read_table(f, f.stem) for f in sorted(folder.glob("*.parquet"))}
    _phase(store, job, runner, "scoring")
    metrics = g.report(synthetic, seed=job["params"].get("seed", 0), out=work / "report.html",
                       json_out=work / "report.json")
    figures = ("sequence_lengths", "univariate", "bivariate", "parent_child", "coherence")
    summary = {
        "kind": "relational",
        "tables": {child: {which: {k: entry[which].get(k) for k in figures} for which in ("synthetic", "holdout")
                           if which in entry} for child, entry in metrics["tables"].items()},
        "rows": {t: d["rows"] for t, d in metrics["integrity"].items()},
        "key_problems": sum(v for d in metrics["integrity"].values() for k, v in d.items()
                            if k.endswith(".dangling") or k == "duplicate_keys")
                        + sum(metrics.get("reused_real_keys", {}).values()),
    }
    _publish(store, paths, job, runner, work, "reports", output_id=output["id"], model_id=model["id"], summary=summary)


def _count_rows(path: Path) -> int:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as fh:  # CSV written by lookalike: one header line, quoted newlines are rare
        import pandas as pd

        return sum(len(chunk) for chunk in pd.read_csv(fh, chunksize=200_000, low_memory=False))
