"""Scale on one machine: a large table, and wide tables.

    python benchmarks/scale.py rows [--rows 1000000] [--format parquet|csv] [key=value ...]
    python benchmarks/scale.py wide [--columns 25,50,100,200] [--first-layer dense|prefix]

``rows``: makes a table of 30 columns (numbers with point masses and rounding, categories,
dates), trains on it with defaults in a child process, then generates as many rows
streamed to Parquet and to CSV in another child process; prints seconds and each
process's peak RSS. ``wide``: per column count, the time of one training step (batch 512,
averaged), the parameter count, and a short train + sample of a 2,000-row table to show
it runs end to end; ``--first-layer`` picks the model's first layer (default: the library's).
"""

from __future__ import annotations

import argparse
import json
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


def child(args: list[str]) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode or not line:
        raise SystemExit(f"child {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(line[0][7:])


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

        model, n, out = sys.argv[2:]
        g = lookalike.load(model)
        t0 = time.perf_counter()
        g.sample(int(n), seed=0, out=out)
        print("RESULT " + json.dumps({"seconds": time.perf_counter() - t0, "peak_mb": peak_mb()}))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["rows", "wide"])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--format", default="parquet", choices=["parquet", "csv"])
    ap.add_argument("--columns", default="25,50,100,200")
    ap.add_argument("--first-layer", choices=["dense", "prefix"], help="wide: the model's first layer")
    ap.add_argument("options", nargs="*", help="training options as key=value (JSON values)")
    args = ap.parse_args()
    if args.what == "rows":
        rows_benchmark(args.rows, args.format, args.options)
    else:
        wide_benchmark([int(c) for c in args.columns.split(",")], args.first_layer)


if __name__ == "__main__":
    main()
