"""Related-tables benchmark: cdnow (users + purchases), baseball (players + fielding) and
berka (8 tables, keys proposed from the names).

baseball3 adds batting beside fielding (two sequential children of the same players).
cdnow/baseball: trains on 90% of the subjects (10% kept aside), generates the training
number of subjects, and prints training/generation seconds, peak RSS and the related-tables
QA figures beside the reference of half of the real subjects against the other half.
berka: trains on all 8 tables, generates every table from one call at the original size
of the subject tables, and prints row counts against the originals and dangling keys.

    python benchmarks/relational.py [--dataset cdnow|baseball|baseball3|berka|all] [--time 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import lookalike
from lookalike.relational.spec import Link
from lookalike.relational.training import split_by_subject
from lookalike.relational.qa import relational_metrics

DATA = Path(os.environ.get("LOOKALIKE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def schema(dataset: str) -> list[dict]:
    if dataset == "cdnow":
        return [
            {"name": "users", "data": DATA / "cdnow" / "users.csv.gz", "primary_key": "id"},
            {"name": "purchases", "data": DATA / "cdnow" / "purchases.csv.gz", "order_by": "date",
             "foreign_keys": [{"column": "users_id", "references": "users", "context": True}]},
        ]
    fk = [{"column": "players_id", "references": "players", "context": True}]
    children = ["fielding"] + (["batting"] if dataset == "baseball3" else [])
    return [{"name": "players", "data": DATA / "baseball" / "players.csv.gz", "primary_key": "id"}] + [
        {"name": c, "data": DATA / "baseball" / f"{c}.csv.gz", "order_by": "year", "foreign_keys": fk}
        for c in children]


def summary(metrics: dict, child: str) -> dict:
    m = metrics["tables"][child]
    return {k: m["synthetic"].get(k) for k in ("sequence_lengths", "univariate", "bivariate", "parent_child",
                                               "coherence", "distinct_per_subject", "time_gaps")}


def run(dataset: str, seconds: float, seed: int) -> dict:
    specs = schema(dataset)
    child = specs[1]["name"]
    t0 = time.perf_counter()
    g = lookalike.train(tables=[dict(s, data=str(s["data"])) for s in specs], max_training_time=seconds,
                        seed=seed, progress=False)
    train_s = time.perf_counter() - t0
    root = specs[0]["name"]
    t0 = time.perf_counter()
    syn = g.sample({root: len(g.train_tables_[root])}, seed=seed)
    gen_s = time.perf_counter() - t0
    metrics = relational_metrics(g.layouts_, g.train_tables_, syn, g.holdout_tables_)
    # reference: half of the real subjects against the other half
    full = {n: pd.concat([g.train_tables_[n], g.holdout_tables_[n]], ignore_index=True) for n in g.layouts_}
    links = {n: Link(lay.parent, lay.parent_fk, g.layouts_[lay.parent].primary_key) if lay.parent else None
             for n, lay in g.layouts_.items()}
    a, b = split_by_subject(links, full, 0.5, np.random.default_rng(seed))
    half = relational_metrics(g.layouts_, a, b)
    out = {
        "dataset": dataset, "train_seconds": round(train_s, 1), "generate_seconds": round(gen_s, 1),
        "rows": {n: len(d) for n, d in syn.items()},
        "synthetic": summary(metrics, child),
        "holdout_10pct": {k: metrics["tables"][child].get("holdout", {}).get(k) for k in summary(metrics, child)},
        "half_vs_half": {k: half["tables"][child]["synthetic"].get(k) for k in summary(metrics, child)},
        "integrity": metrics["integrity"], "reused_real_keys": metrics["reused_real_keys"],
        "order_violations": metrics["tables"][child]["synthetic"].get("order_violations"),
        "detail": {k: metrics["tables"][child]["synthetic"][k] for k in ("bivariate_by_pair", "coherence_by_column")},
        "detail_half_vs_half": {k: half["tables"][child]["synthetic"][k] for k in ("bivariate_by_pair", "coherence_by_column")},
        "training": g.training_,
    }
    for other in specs[2:]:  # further children of the same subjects (baseball3: batting)
        c = other["name"]
        out[c] = {"synthetic": summary(metrics, c),
                  "half_vs_half": {k: half["tables"][c]["synthetic"].get(k) for k in summary(metrics, c)},
                  "order_violations": metrics["tables"][c]["synthetic"].get("order_violations")}
    if dataset.startswith("baseball"):
        players = syn["players"]
        birth = pd.to_datetime(players.set_index("id")["birthDate"], errors="coerce").dt.year
        for c in [s["name"] for s in specs[1:]]:
            age = syn[c]["year"].to_numpy() - birth.reindex(syn[c]["players_id"]).to_numpy()
            out[f"{c}_under_15_share"] = float(np.nanmean(age < 15)) if len(age) else None
        if "batting" in syn:  # siblings belong to the same synthetic players
            n_f = players["id"].map(syn["fielding"]["players_id"].value_counts()).fillna(0)
            n_b = players["id"].map(syn["batting"]["players_id"].value_counts()).fillna(0)
            real = full["players"]
            r_f = real["id"].map(full["fielding"]["players_id"].value_counts()).fillna(0)
            r_b = real["id"].map(full["batting"]["players_id"].value_counts()).fillna(0)
            out["batting_fielding_count_corr"] = {"synthetic": round(float(np.corrcoef(n_f, n_b)[0, 1]), 3),
                                                  "real": round(float(np.corrcoef(r_f, r_b)[0, 1]), 3)}
    return out


BERKA = ["district", "account", "client", "disposition", "card", "loan", "orders", "transaction"]


def run_berka(seconds: float, seed: int) -> dict:
    tables = {n: {"data": str(DATA / "berka" / f"{n}.csv.gz")} for n in BERKA}  # keys proposed
    real = {n: pd.read_csv(t["data"]) for n, t in tables.items()}
    t0 = time.perf_counter()
    g = lookalike.train(tables=tables, max_training_time=seconds, seed=seed, progress=False)
    train_s = time.perf_counter() - t0
    roots = {n: len(real[n]) for n, lay in g.layouts_.items() if lay.parent is None}  # the original size
    t0 = time.perf_counter()
    syn = g.sample(roots, seed=seed)
    gen_s = time.perf_counter() - t0
    integrity = relational_metrics(g.layouts_, g.train_tables_, syn)["integrity"]
    return {
        "dataset": "berka", "train_seconds": round(train_s, 1), "generate_seconds": round(gen_s, 1),
        "relations": {n: {"parent": lay.parent, "references": [r.references for r in lay.plain_refs]}
                      for n, lay in g.layouts_.items()},
        "rows": {n: [len(syn[n]), len(real[n]), round(len(syn[n]) / len(real[n]), 3)] for n in BERKA},
        "integrity": integrity,
        "epochs": {n: t.get("epochs") for n, t in g.training_["tables"].items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="all", choices=["cdnow", "baseball", "baseball3", "berka", "all"])
    ap.add_argument("--time", type=float, default=200.0, help="training seconds per dataset (all tables)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    results = []
    for ds in (["cdnow", "baseball", "berka"] if args.dataset == "all" else [args.dataset]):
        r = run_berka(args.time, args.seed) if ds == "berka" else run(ds, args.time, args.seed)
        r["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        r["machine"] = f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
        print(json.dumps(r, indent=1, default=str), flush=True)
        results.append(r)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
