"""Time-series benchmark: favorita (54 stores, daily transactions 2013-2017).

Stores are split in halves with a fixed seed (``holdout_share=0.5``): the model trains on
one half; every figure of the synthetic series is given beside the held-out half scored
the same way against the training half (issue 14's bar).

    OMP_NUM_THREADS=1 python benchmarks/timeseries.py [--time 600] [--seed 0] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import lookalike
from lookalike.qa import timeseries as ts

DATA = Path(os.environ.get("LOOKALIKE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "favorita"
LAGS = (1, 7, 14, 28, 364)


def tables() -> list[dict]:
    return [{"name": "stores", "data": str(DATA / "stores.csv.gz"), "primary_key": "store_nbr"},
            {"name": "transactions", "data": str(DATA / "transactions.csv.gz"), "order_by": "date",
             "foreign_keys": [{"column": "store_nbr", "references": "stores", "context": True}]}]


def figures(train: dict, other: dict) -> dict:
    """Every series figure of ``other`` (synthetic or holdout) against the training half."""
    t, o = train["transactions"], other["transactions"]
    args = ("store_nbr", "date", "transactions")
    prof_t, prof_o = ts.calendar_profile(t, *args), ts.calendar_profile(o, *args)
    per = {}
    for name, d in (("train", train), ("other", other)):
        x = d["transactions"].assign(date=pd.to_datetime(d["transactions"]["date"]))
        s = x.groupby("store_nbr").agg(length=("date", "size"), start=("date", "min"), level=("transactions", "mean"))
        s["start"] = s["start"].astype("int64") / 86_400e9
        per[name] = s.join(d["stores"].set_index("store_nbr")[["type"]])
    return {"acf": ts.acf(o, *args, lags=LAGS),
            "weekday_profile": prof_o,
            "weekday_max_diff_pct": 100 * max(abs(prof_o[k] - prof_t[k]) for k in prof_t),
            "calendar": ts.calendar_checks(o, "store_nbr", "date"),
            "length_accuracy": ts.subject_accuracy(per["train"]["length"], per["other"]["length"]),
            "start_accuracy": ts.subject_accuracy(per["train"]["start"], per["other"]["start"]),
            "value_accuracy": ts.value_accuracy(t["transactions"], o["transactions"]),
            "type_level_accuracy": ts.static_level_accuracy(per["train"], per["other"], "type", "level"),
            "stores": int(o["store_nbr"].nunique()), "rows": len(o)}


def continuation(g, holdout: dict, steps: int = 28, draws: int = 5) -> dict:
    """Continue every held-out store's last ``steps`` days from its history: MAE of the
    median of ``draws`` draws per step, against the seasonal-naive forecast."""
    tr = holdout["transactions"].assign(date=pd.to_datetime(holdout["transactions"]["date"]))
    tr = tr.sort_values(["store_nbr", "date"])
    k = tr.groupby("store_nbr").cumcount(ascending=False)
    hist, future = tr[k >= steps], tr[k < steps]
    hist = hist.assign(date=hist["date"].dt.strftime("%Y-%m-%d"))
    runs = []
    t0 = time.perf_counter()
    for s in range(draws):
        out = g.sample(continue_from={"stores": holdout["stores"], "transactions": hist}, steps=steps, seed=100 + s)
        c = out["transactions"].copy()
        c["k"] = c.groupby("store_nbr").cumcount()
        runs.append(c.set_index(["store_nbr", "k"])["transactions"].astype(float))
    seconds = time.perf_counter() - t0
    median = pd.concat(runs, axis=1).median(axis=1)
    fut = future.assign(k=future.groupby("store_nbr").cumcount()).set_index(["store_nbr", "k"])["transactions"]
    model_err = (median.reindex(fut.index) - fut).abs().mean()
    naive = []
    for store, h in hist.groupby("store_nbr"):
        dense = ts.dense_series(h, "store_nbr", "date", "transactions")[store]
        f = fut.loc[store].to_numpy(dtype=float)
        naive.append(np.abs(ts.seasonal_naive(dense, len(f)) - f))
    naive_err = float(np.mean(np.concatenate(naive)))
    return {"mae": float(model_err), "seasonal_naive_mae": naive_err, "ratio": float(model_err / naive_err),
            "seconds_per_draw": seconds / draws}


def scaling(g, holdout: dict, short: int = 168, factor: int = 10, repeats: int = 3) -> dict:
    """Continuation time of 4 held-out stores by ``short`` and ``factor`` x ``short`` steps,
    each the best of ``repeats`` runs (as ``timeit`` does: other work on shared cores only
    ever adds time)."""
    stores = holdout["stores"].head(4)
    hist = holdout["transactions"][holdout["transactions"]["store_nbr"].isin(stores["store_nbr"])]
    times = {}
    for n in (short, factor * short):
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            g.sample(continue_from={"stores": stores, "transactions": hist}, steps=n, seed=7)
            runs.append(time.perf_counter() - t0)
        times[n] = min(runs)
    return {"seconds": times, "ratio": times[factor * short] / times[short]}


def run(seconds: float, seed: int) -> dict:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    g = lookalike.train(tables=tables(), max_training_time=seconds, seed=seed, holdout_share=0.5, progress=False)
    train_s = time.perf_counter() - t0
    train, hold = g.train_tables_, g.holdout_tables_
    t0 = time.perf_counter()
    syn = g.sample({"stores": 54}, seed=seed + 1)
    gen_s = time.perf_counter() - t0
    fit = {n: ts.dense_series(d["transactions"], "store_nbr", "date", "transactions") for n, d in
           (("train", train), ("synthetic", syn))}
    test = ts.dense_series(hold["transactions"], "store_nbr", "date", "transactions")
    mae_real, mae_syn = ts.forecast_mae(fit["train"], test), ts.forecast_mae(fit["synthetic"], test)
    lay = g.layouts_["transactions"]
    return {"train_seconds": round(train_s, 1), "generate_54_seconds": round(gen_s, 1),
            "calendar": None if lay.calendar is None else vars(lay.calendar),
            "training_acf": ts.acf(train["transactions"], "store_nbr", "date", "transactions", lags=LAGS),
            "synthetic": figures(train, syn), "holdout": figures(train, hold),
            "forecast": {"mae_fit_on_real": mae_real, "mae_fit_on_synthetic": mae_syn,
                         "ratio": None if not mae_real or mae_syn is None else mae_syn / mae_real},
            "continuation": continuation(g, hold), "scaling": scaling(g, hold)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", type=float, default=600.0, help="max_training_time (seconds)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=str, default=None)
    a = ap.parse_args()
    res = run(a.time, a.seed)
    text = json.dumps(res, indent=1, default=str)
    print(text)
    if a.json:
        Path(a.json).write_text(text)


if __name__ == "__main__":
    main()
