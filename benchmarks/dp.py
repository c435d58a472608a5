"""Differential privacy benchmark: train on adult with ``differential_privacy`` at ε = 1 and
ε = 10 (δ = 1e-5), generate as many rows as the training table, and score against the
holdout. Prints accuracy, the ε the accountant says was spent, and training seconds.

    python benchmarks/dp.py [--epsilon 1 10] [--json out.json] [key=value DP options, e.g. epochs=6]

Timings depend on the machine's load: the script prints the load average beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

import lookalike

DATA = Path(os.environ.get("LOOKALIKE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "adult"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epsilon", type=float, nargs="+", default=[1.0, 10.0])
    ap.add_argument("--delta", type=float, default=1e-5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("options", nargs="*", help="key=value options of differential_privacy (JSON values)")
    args = ap.parse_args()
    extra = {k: json.loads(v) for k, _, v in (o.partition("=") for o in args.options)}
    train = pd.read_csv(DATA / "train.csv.gz")
    holdout = pd.read_csv(DATA / "holdout.csv.gz")
    results = []
    for eps in args.epsilon:
        load = os.getloadavg()[0]
        t0 = time.monotonic()
        g = lookalike.train(train, differential_privacy={"epsilon": eps, "delta": args.delta, **extra},
                            seed=args.seed, progress=False)
        seconds = time.monotonic() - t0
        syn = g.sample(len(train), seed=args.seed)
        m = lookalike.report(syn, train, holdout=holdout, out=None, attacks=False)
        dp = g.training_["differential_privacy"]
        row = {"epsilon": eps, "epsilon_spent": dp["epsilon_spent"], "delta": dp["delta_spent"],
               "accuracy": round(m.accuracy.overall, 4), "univariate": round(m.accuracy.univariate, 4),
               "bivariate": round(m.accuracy.bivariate, 4), "train_seconds": round(seconds, 1),
               "load_avg_1min": round(load, 2), "steps": dp["steps_done"], "noise_multiplier": dp["noise_multiplier"],
               "batch": dp["expected_batch_size"]}
        results.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
