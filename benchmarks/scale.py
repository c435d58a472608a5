"""Scale on one machine: a large table, and wide tables.

    python benchmarks/scale.py rows [--rows 1000000] [--format parquet|csv] [key=value ...]
    python benchmarks/scale.py wide [--columns 25,50,100,200] [--first-layer dense|prefix]
    python benchmarks/scale.py ray --model MODEL [--rows 2000000] [--workers 2] [--shard-rows 100000] [--kill]
    python benchmarks/scale.py related [--epochs 2] [--shard-rows 5000] [--parts train,generate]
    python benchmarks/scale.py ddp [--data ../shared/data/adult/train.csv.gz] [--epochs 2] [--workers 2]

``rows``: makes a table of 30 columns (numbers with point masses and rounding, categories,
dates), trains on it with defaults in a child process, then generates as many rows
streamed to Parquet and to CSV in another child process; prints seconds and each
process's peak RSS. ``wide``: per column count, the time of one training step (batch 512,
averaged), the parameter count, and a short train + sample of a 2,000-row table to show
it runs end to end; ``--first-layer`` picks the model's first layer (default: the library's).
``ray``: scaling out with a trained model: one process with one torch thread writing one
Parquet file (the baseline), then ``lookalike generate --ray`` and ``--workers`` into a folder
of parts; prints rows/s, the speed-up, and the peak RSS of every worker process (each
process's high-water mark, read from /proc while the run goes). ``--kill`` kills one Ray
worker (SIGKILL) once a few parts are in and checks that the run still completes whole.
``related``: related tables on Ray. Training: baseball (players, batting, fielding) with
``lookalike train --config`` for ``--epochs`` epochs per table, sequentially and with
``--ray`` (each table a Ray task of one CPU; Ray's start-up counted), wall time of each and
the ratio (the bar: at most 0.75; also against a sequential run with one torch thread, since
on shared cores torch's threads wait on each other), and whether the two model files hold the same tables and
layouts. Generation: cdnow (users, purchases) trained briefly, then generated with ``--ray``
and with ``--workers 1`` in shards of ``--shard-rows`` users: keys unique across shards,
dangling references, dates in order within every user, and the same bytes both ways.
``ddp``: one table's model trained data-parallel on Ray Train (``lookalike.train(..., ray=True)``):
``--epochs`` fixed epochs (no early stopping, no time limit: the same work every way) in this
process with torch's default threads, with ``OMP_NUM_THREADS=1``, and on ``--workers`` Ray
Train workers of one CPU each (Ray started by the call and counted); per run the wall time of
``train`` (reading and encoding included), the training loop's own seconds, the best
validation loss, accuracy (overall, from the QA report, attacks off) and a digest of the
weights (the same seed and worker count give the same digest).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def make_table(n: int, n_cols: int = 30, seed: int = 0) -> pd.DataFrame:
    """A synthetic table with what real tables have; columns depend on a latent segment."""
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, 5, n)
    cols: dict[str, np.ndarray] = {}
    for i in range(n_cols):
        kind = i % 6
        if kind == 0:  # categorical, segment-dependent
            cats = np.array([f"c{i}_{j}" for j in range(8)])
            cols[f"cat_{i}"] = cats[(seg + rng.integers(0, 3, n)) % 8]
        elif kind == 1:  # zero-inflated duration with one decimal
            cols[f"dur_{i}"] = np.where(rng.random(n) < 0.4, 0.0, np.round(rng.exponential(100 * (seg + 1)), 1))
        elif kind == 2:  # price rounded to 10 half of the time
            p = np.round(rng.lognormal(3 + 0.2 * seg, 0.7))
            cols[f"price_{i}"] = np.where(rng.random(n) < 0.5, np.round(p / 10) * 10, p)
        elif kind == 3:  # integer count
            cols[f"count_{i}"] = rng.poisson(3 + seg)
        elif kind == 4:  # amount in cents, heavy tail
            cols[f"amount_{i}"] = np.round(rng.pareto(2.5, n) * 50 * (1 + seg), 2)
        else:  # a date
            cols[f"date_{i}"] = (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n) + 30 * seg, unit="D"))
    return pd.DataFrame(cols)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(args: list[str], env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not line:
        raise SystemExit(f"child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[0][7:])


def _tree(root: int) -> dict[int, tuple[int, str]]:
    """Processes under ``root`` (itself included): pid -> (peak RSS in kB, command line, CPU seconds)."""
    procs = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                status = (d / "status").read_text()
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            hwm = int(fields.get("VmHWM", "0 kB").split()[0])
            cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
            procs[int(d.name)] = (int(fields["PPid"]), hwm, cmd, cpu)
    keep, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in procs:
            keep[pid] = procs[pid][1:]
            todo += [p for p, (ppid, *_) in procs.items() if ppid == pid]
    return keep


def watched(cmd: list[str], kill_after_parts: int | None = None, staging_glob: str = "") -> tuple[float, dict, str]:
    """Run ``cmd``; return seconds, {pid: (peak RSS MB, command, CPU s)} of its process tree, and
    what happened to the worker killed (with ``kill_after_parts``: one Ray worker gets SIGKILL
    once that many parts are in the staging folder)."""
    import signal

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peaks: dict[int, tuple[float, str, float]] = {}
    killed = ""
    while proc.poll() is None:
        for pid, (hwm, line, cpu) in _tree(proc.pid).items():
            mb, seen, used = peaks.get(pid, (0.0, "", 0.0))
            peaks[pid] = (max(hwm / 1024, mb), line or seen, max(cpu, used))  # an ended process shows no command
        if kill_after_parts and not killed:
            parts = [p for d in Path(staging_glob).parent.glob(Path(staging_glob).name) for p in d.glob("part-*")]
            workers = [pid for pid, (_, line, _) in peaks.items() if line.startswith("ray::_ray_part")]
            if len(parts) >= kill_after_parts and workers:
                os.kill(workers[0], signal.SIGKILL)
                killed = f"killed worker {workers[0]} after {len(parts)} parts"
        time.sleep(0.3)
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"{cmd} failed ({killed}):\n{err[-3000:]}")
    return time.perf_counter() - t0, peaks, killed


def ray_benchmark(model: str, n: int, workers: int, shard_rows: int, kill: bool) -> None:
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores", flush=True)
    with tempfile.TemporaryDirectory(dir=Path(model).parent) as tmp:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        base = child(["_generate", model, str(n), str(Path(tmp) / "one.parquet"), "threads=1"])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        base_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        print(f"one process, one torch thread, one file: {base['seconds']:.1f}s ({n / base['seconds']:,.0f} rows/s), "
              f"{base_cpu:.1f} CPU s, peak RSS {base['peak_mb']:.0f} MB", flush=True)
        common = ["lookalike", "generate", model, "--rows", str(n), "--seed", "0", "--shard-rows", str(shard_rows), "-q"]
        runs = [("--workers", [*common, "--out", f"{tmp}/local/", "--workers", str(workers)], None),
                ("--ray", [*common, "--out", f"{tmp}/ray/", "--ray", "--workers", str(workers)], None)]
        if kill:
            runs.append(("--ray, a worker killed", [*common, "--out", f"{tmp}/killed/", "--ray", "--workers", str(workers)], 2))
        reference: dict[str, bytes] | None = None
        for name, cmd, kill_after in runs:
            out = Path(cmd[cmd.index("--out") + 1])
            seconds, peaks, killed = watched(cmd, kill_after, f"{tmp}/.{out.name}.*.tmp")
            rows = len(pd.read_parquet(out))
            leftovers = [p.name for p in Path(tmp).iterdir() if p.name.startswith(".")]
            parts = {p.name: p.read_bytes() for p in sorted(out.iterdir())}
            reference = parts if reference is None else reference  # same seed and shards: same bytes
            is_worker = [line.startswith("ray::") or "spawn_main" in line for _, line, _ in peaks.values()]
            workers_mb = sorted(mb for (mb, _, _), w in zip(peaks.values(), is_worker) if w)
            others = sorted((mb, (line.split() or ["?"])[0].rsplit("/", 1)[-1])
                            for (mb, line, _), w in zip(peaks.values(), is_worker) if not w)
            cpu = sum(c for _, _, c in peaks.values())
            busiest = max((c for (_, _, c), w in zip(peaks.values(), is_worker) if w), default=0.0)
            print(f"{name} ({workers} workers): {seconds:.1f}s ({n / seconds:,.0f} rows/s, {base['seconds'] / seconds:.2f}x "
                  f"the one-thread process), {rows:,} rows, same bytes as the first run: {parts == reference}, "
                  f"staging left: {leftovers or 'none'}"
                  + (f"; {killed}" if killed else ""), flush=True)
            print(f"  worker peak RSS (MB): {', '.join(f'{mb:.0f}' for mb in workers_mb)}; "
                  f"others: {', '.join(f'{c} {mb:.0f}' for mb, c in others[-4:])}", flush=True)
            # on cores shared with other jobs the wall clock says more about them than about us:
            # the CPU seconds say what the run cost, and the busiest worker bounds the wall time on free cores
            print(f"  CPU: {cpu:.1f}s in all, busiest worker {busiest:.1f}s (the one-thread process: {base_cpu:.1f}s; "
                  f"on {workers} free cores about {base_cpu / max(busiest, cpu / workers):.2f}x)", flush=True)
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)


DATA = Path(os.environ.get("LOOKALIKE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _schema(tmp: str, name: str, tables: list[dict], **options) -> str:
    path = Path(tmp) / f"{name}.json"
    path.write_text(json.dumps({"tables": tables, "options": {"seed": 0, "progress": False, **options}}, default=str))
    return str(path)


def related_benchmark(epochs: int, shard_rows: int, parts: str = "train,generate") -> None:
    import zipfile

    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores", flush=True)
    fk = [{"column": "players_id", "references": "players", "context": True}]
    baseball = [{"name": "players", "data": DATA / "baseball" / "players.csv.gz", "primary_key": "id"}] + [
        {"name": c, "data": DATA / "baseball" / f"{c}.csv.gz", "order_by": "year", "foreign_keys": fk}
        for c in ("batting", "fielding")]
    with tempfile.TemporaryDirectory() as tmp:
        schema = _schema(tmp, "baseball", baseball, max_epochs=epochs)
        seconds, metas = {}, {}
        # the sequential run as users get it (torch's threads: one per core), and with one torch
        # thread: on cores shared with other jobs, torch's threads wait on each other
        runs = (("ray", ["--ray"], {}), ("sequential, one torch thread", [], {"OMP_NUM_THREADS": "1"}),
                ("sequential", [], {}))
        for name, extra, env in runs if "train" in parts else ():
            model = f"{tmp}/baseball-{len(seconds)}.lookalike"
            t0 = time.perf_counter()
            proc = subprocess.run(["lookalike", "train", "--config", schema, "--out", model, "-q", *extra],
                                  capture_output=True, text=True, env={**os.environ, **env})
            seconds[name] = time.perf_counter() - t0
            if proc.returncode:
                raise SystemExit(f"train {name} failed:\n{proc.stderr[-3000:]}")
            with zipfile.ZipFile(model) as z:
                metas[name] = (z.namelist(), json.loads(z.read("meta.json")))
            epochs_run = {t: m["epochs"] for t, m in metas[name][1]["training"]["tables"].items()}
            load = os.getloadavg()
            print(f"baseball train, {name}: {seconds[name]:.1f}s, epochs {epochs_run}; load average now "
                  f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
        if "train" in parts:
            (names_s, meta_s), (names_r, meta_r) = metas["sequential"], metas["ray"]
            same = names_s == names_r and meta_s["layouts"] == meta_r["layouts"] and meta_s["config"] == meta_r["config"]
            ratio = seconds["ray"] / seconds["sequential"]
            print(f"baseball train --ray / sequential: {ratio:.2f} (bar <= 0.75: {'pass' if ratio <= 0.75 else 'FAIL'}); "
                  f"/ sequential with one torch thread: {seconds['ray'] / seconds['sequential, one torch thread']:.2f}; "
                  f"same model file structure: {same}", flush=True)
        if "generate" not in parts:
            return

        cdnow = [{"name": "users", "data": DATA / "cdnow" / "users.csv.gz", "primary_key": "id"},
                 {"name": "purchases", "data": DATA / "cdnow" / "purchases.csv.gz", "order_by": "date",
                  "foreign_keys": [{"column": "users_id", "references": "users", "context": True}]}]
        model = f"{tmp}/cdnow.lookalike"
        subprocess.run(["lookalike", "train", "--config", _schema(tmp, "cdnow", cdnow, max_epochs=1), "--out", model,
                        "-q"], check=True, capture_output=True)
        outs = {}
        for name, extra in (("ray", ["--ray"]), ("one process", [])):
            out = f"{tmp}/cdnow-{len(outs)}/"
            t0 = time.perf_counter()
            subprocess.run(["lookalike", "generate", model, "--out", out, "--seed", "0", "--shard-rows", str(shard_rows),
                            "-q", *extra], check=True, capture_output=True)
            took = time.perf_counter() - t0
            outs[name] = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(Path(out).rglob("*.parquet"))}
            users, purchases = pd.read_parquet(f"{out}users"), pd.read_parquet(f"{out}purchases")
            dangling = int((~purchases["users_id"].isin(users["id"])).sum())
            dates = pd.to_datetime(purchases["date"])
            out_of_order = int((dates.groupby(purchases["users_id"]).diff().dropna() < pd.Timedelta(0)).sum())
            print(f"cdnow generate, {name}: {took:.1f}s, {len(users):,} users and {len(purchases):,} purchases in "
                  f"{len(list(Path(out, 'users').iterdir()))} shards; keys unique: {users['id'].is_unique}; "
                  f"dangling references: {dangling}; dates out of order within a user: {out_of_order}", flush=True)
        print(f"cdnow --ray and one process: same bytes: {outs['ray'] == outs['one process']}", flush=True)


def ddp_benchmark(data: str, epochs: int, workers: int) -> None:
    """Local training (torch's threads, and one thread) against Ray Train with ``workers``
    workers, each run in its own process; see the module's docstring."""
    load = os.getloadavg()
    print(f"{data}, {epochs} epochs; load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
          f"{os.cpu_count()} cores", flush=True)
    runs = (("local, torch's threads", [], {}), ("local, OMP_NUM_THREADS=1", [], {"OMP_NUM_THREADS": "1"}),
            (f"ray, {workers} workers x 1 CPU", [str(workers)], {}))
    wall = {}
    for name, extra, env in runs:
        r = child(["_ddp", data, str(epochs), *extra], env)
        wall[name] = r["seconds"]
        load = os.getloadavg()
        print(f"{name}: train {r['seconds']:.1f}s (loop {r['loop_seconds']:.1f}s), epochs {r['epochs']}, "
              f"val loss {r['val_loss']:.4f}, accuracy {r['accuracy']:.4f}, weights {r['digest']}; "
              f"load average now {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    ray_s = wall[runs[2][0]]
    print(f"ray / local: {ray_s / wall[runs[0][0]]:.2f}; ray / local one thread: {ray_s / wall[runs[1][0]]:.2f}",
          flush=True)


def _ddp_child(data: str, epochs: int, workers: int | None) -> dict:
    import hashlib

    import lookalike

    options = dict(seed=0, progress=False, max_epochs=epochs, patience=epochs, max_training_time=None)
    if workers:
        options.update(ray=True, ray_workers=workers)
    seen = []
    t0 = time.perf_counter()
    g = lookalike.train(data, on_progress=seen.append, **options)
    seconds = time.perf_counter() - t0
    m = g.report(out=None, attacks=False)
    weights = hashlib.sha256(b"".join(v.cpu().numpy().tobytes() for v in g.model_.state_dict().values()))
    return {"seconds": seconds, "loop_seconds": seen[-1].elapsed, "epochs": g.training_["epochs"],
            "val_loss": g.training_["val_loss"], "accuracy": m.accuracy.overall, "digest": weights.hexdigest()[:12],
            "data_parallel": g.training_.get("data_parallel")}


def rows_benchmark(n: int, fmt: str, options: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / f"big.{fmt}"
        df = make_table(n)
        t0 = time.perf_counter()
        df.to_parquet(data) if fmt == "parquet" else df.to_csv(data, index=False)
        print(f"wrote {n:,} x {df.shape[1]} {fmt} in {time.perf_counter() - t0:.0f}s ({data.stat().st_size / 1e6:.0f} MB)", flush=True)
        del df
        model = Path(tmp) / "big.lookalike"
        tr = child(["_train", str(data), str(model), *options])
        print(f"train: {tr['seconds']:.0f}s (budget {tr['budget']}s, {tr['training']['rows']:,} rows, "
              f"{tr['training']['epochs']} epochs, {tr['training']['seconds']:.0f}s in the training loop, stopped by {tr['training']['stopped_by']}), peak RSS {tr['peak_mb']:.0f} MB", flush=True)
        for out_fmt in ("parquet", "csv"):
            gen = child(["_generate", str(model), str(n), str(Path(tmp) / f"synthetic.{out_fmt}")])
            print(f"generate {n:,} rows -> {out_fmt}: {gen['seconds']:.1f}s ({n / gen['seconds']:,.0f} rows/s), "
                  f"peak RSS {gen['peak_mb']:.0f} MB", flush=True)


def wide_benchmark(widths: list[int], first_layer: str | None = None) -> None:
    import torch

    import lookalike
    from lookalike import model as network
    from lookalike.config import TrainConfig
    from lookalike.encoding import TableEncoder
    from lookalike.model import TabularModel
    from lookalike.schema import infer_schema
    from lookalike.training import random_ranks

    if first_layer:
        network.DEFAULT_FIRST_LAYER = first_layer  # lookalike.train below builds this one too
    print(f"first layer: {network.DEFAULT_FIRST_LAYER}")
    print("| columns | sub-columns | first layer | parameters | ms per training step (batch 512) | ms per column | 2,000-row train + sample |")
    print("|---|---|---|---|---|---|---|")
    for w in widths:
        df = make_table(4000, w)
        cfg = TrainConfig()
        enc = TableEncoder.fit(df, infer_schema(df), np.random.default_rng(0), cfg)
        tokens = torch.as_tensor(enc.encode(df))
        layer = network.first_layer_for(len(enc.cardinalities), network.DEFAULT_FIRST_LAYER)
        model = TabularModel(enc.cardinalities, enc.column_of_sub, size=cfg.model_size, first_layer=layer)
        opt = torch.optim.AdamW(model.parameters(), 3e-3)
        gen = torch.Generator().manual_seed(0)
        n_cols = max(enc.column_of_sub) + 1

        def step() -> float:
            batch = tokens[torch.randint(0, len(tokens), (512,), generator=gen)]
            t = time.perf_counter()
            loss = model.loss(batch, random_ranks(512, n_cols, gen, torch.device("cpu")))
            opt.zero_grad()
            loss.backward()
            opt.step()
            return time.perf_counter() - t

        for _ in range(3):
            step()
        ms = 1000 * float(np.median([step() for _ in range(15)]))
        t = time.perf_counter()
        g = lookalike.train(df.head(2000), max_epochs=2, seed=0, progress=False)
        out = g.sample(2000, seed=0)
        assert out.shape == (2000, w)
        end_to_end = time.perf_counter() - t
        n_params = sum(p.numel() for p in model.parameters())
        print(f"| {w} | {len(enc.cardinalities)} | {layer} | {n_params:,} | {ms:.0f} | {ms / w:.2f} | {end_to_end:.0f}s |", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_train":  # child: train with defaults, save
        import lookalike

        data, model, *opts = sys.argv[2:]
        options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in opts)}
        t0 = time.perf_counter()
        g = lookalike.train(data, seed=0, progress=False, **options)
        seconds = time.perf_counter() - t0
        g.save(model)
        print("RESULT " + json.dumps({"seconds": seconds, "training": g.training_, "peak_mb": peak_mb(),
                                      "budget": g.config_.max_training_time}))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_generate":  # child: load, stream rows to a file
        import lookalike

        model, n, out, *opts = sys.argv[2:]
        if "threads=1" in opts:  # the baseline of `ray`: one process on one core
            import torch

            torch.set_num_threads(1)
        g = lookalike.load(model)
        t0 = time.perf_counter()
        g.sample(int(n), seed=0, out=out)
        print("RESULT " + json.dumps({"seconds": time.perf_counter() - t0, "peak_mb": peak_mb()}))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_ddp":  # child: train locally or on Ray Train, report
        data, epochs, *workers = sys.argv[2:]
        print("RESULT " + json.dumps(_ddp_child(data, int(epochs), int(workers[0]) if workers else None)))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["rows", "wide", "ray", "related", "ddp"])
    ap.add_argument("--epochs", type=int, default=2, help="related: epochs per table; ddp: epochs (the same work "
                    "every way)")
    ap.add_argument("--data", default=str(DATA / "adult" / "train.csv.gz"), help="ddp: the table")
    ap.add_argument("--parts", default="train,generate", help="related: train (baseball), generate (cdnow), or both")
    ap.add_argument("--model", help="ray: a trained model file (e.g. from lookalike train adult/train.csv.gz)")
    ap.add_argument("--workers", type=int, default=2, help="ray: worker processes / Ray tasks at a time; ddp: Ray "
                    "Train workers")
    ap.add_argument("--shard-rows", type=int, default=None, help="ray: rows per shard (100000); related: users per shard (5000)")
    ap.add_argument("--kill", action="store_true", help="ray: also kill a Ray worker mid-run")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    ap.add_argument("--columns", default="25,50,100,200")
    ap.add_argument("--first-layer", choices=["dense", "prefix"], help="wide: the model's first layer")
    ap.add_argument("options", nargs="*", help="training options as key=value (JSON values)")
    args = ap.parse_args()
    if args.what == "ray":
        if not args.model:
            raise SystemExit("ray needs --model MODEL")
        ray_benchmark(args.model, args.rows, args.workers, args.shard_rows or 100_000, args.kill)
    elif args.what == "ddp":
        ddp_benchmark(args.data, args.epochs, args.workers)
    elif args.what == "related":
        related_benchmark(args.epochs, args.shard_rows or 5_000, args.parts)
    elif args.what == "rows":
        rows_benchmark(args.rows, args.format, args.options)
    else:
        wide_benchmark([int(c) for c in args.columns.split(",")], args.first_layer)


if __name__ == "__main__":
    main()
