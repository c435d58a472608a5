"""The flat suite: train with defaults on every flat table of ../shared/data and score the
synthetic rows against the held-out half with the QA report's definitions.

    python benchmarks/flat_suite.py [--tables adult,titanic] [--json out.json] [--seed 0] [key=value ...]
    python benchmarks/flat_suite.py --tables more   # the tables kept outside the suite (MORE)
    python benchmarks/flat_suite.py --tables sklearn   # scikit-learn's bundled tables (SKLEARN)

Each table runs in its own process (so peak RSS is the table's own): split 50/50 with a
fixed seed (adult: its given train/holdout files), at most 40,000 rows per half, key
columns dropped, as many synthetic rows as training rows. One line per table: overall,
uni-, bi-, trivariate accuracy with the holdout's own figures in brackets, discriminator
AUC, DCR share, identical-row share (the holdout's in brackets), training seconds,
generation rows/s, peak RSS, and the issue's bar (ok / what fails).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(os.environ.get("LOOKALIKE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
MAX_ROWS = 40_000
SPLIT_SEED = 42

# name -> (file, columns to drop)
TABLES: dict[str, tuple[str, list[str]]] = {
    "adult": ("adult/train.csv.gz", []),
    "census": ("census/census.csv.gz", []),
    "housing": ("housing/housing_at.csv.gz", []),
    "airbnb": ("airbnb/london.csv.gz", ["title", "host_name"]),
    "batting": ("baseball/batting.csv.gz", ["players_id"]),
    "fielding": ("baseball/fielding.csv.gz", ["players_id"]),
    "berka_tx": ("berka/transaction.csv.gz", ["transaction_id", "account_id"]),
    "cdnow": ("cdnow/purchases.csv.gz", ["users_id"]),
    "titanic": ("titanic/titanic.csv", []),
}
# more tables of ../shared/data, not part of the suite's bar: small ones, a near-unique
# account number beside amounts (orders), a daily count (favorita); a check that a change
# helps beyond the suite
MORE: dict[str, tuple[str, list[str]]] = {
    "players": ("baseball/players.csv.gz", ["id", "nameLast"]),
    "account": ("berka/account.csv.gz", ["account_id"]),
    "card": ("berka/card.csv.gz", ["card_id", "disposition_id"]),
    "loan": ("berka/loan.csv.gz", ["loan_id", "account_id"]),
    "orders": ("berka/orders.csv.gz", ["orders_id", "account_id"]),
    "favorita_tx": ("favorita/transactions.csv.gz", []),
}


# small tables of measurements bundled with scikit-learn (the `qa` extra), outside the suite's bar:
# numbers with tight relations (breast cancer's radius, perimeter and area), few rows
SKLEARN = ("breast_cancer", "diabetes", "wine", "iris")


def _sklearn_table(name: str) -> pd.DataFrame:
    from sklearn import datasets

    b = datasets.load_diabetes(scaled=False) if name == "diabetes" else getattr(datasets, f"load_{name}")()
    df = pd.DataFrame(b.data, columns=[str(c) for c in b.feature_names])
    df["target"] = b.target
    return df


def split(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table's training and held-out halves (fixed seed, at most MAX_ROWS each)."""
    if name == "adult":
        return pd.read_csv(DATA / TABLES[name][0]), pd.read_csv(DATA / "adult/holdout.csv.gz")
    if name in SKLEARN:
        df = _sklearn_table(name)
    else:
        path, drop = {**TABLES, **MORE}[name]
        df = pd.read_csv(DATA / path).drop(columns=drop)
    idx = np.random.default_rng(SPLIT_SEED).permutation(len(df))
    half = len(df) // 2
    train, hold = df.iloc[idx[:half]], df.iloc[idx[half:]]
    return train.head(MAX_ROWS).reset_index(drop=True), hold.head(MAX_ROWS).reset_index(drop=True)


def run_one(name: str, seed: int, options: dict) -> dict:
    import lookalike

    train, holdout = split(name)
    t0 = time.perf_counter()
    g = lookalike.train(train, holdout=holdout, seed=seed, progress=False, **options)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    syn = g.sample(len(train), seed=seed)
    gen_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if os.environ.get("FLAT_SUITE_KEEP"):  # keep the synthetic table for a closer look
        syn.to_csv(Path(os.environ["FLAT_SUITE_KEEP"]) / f"{name}.csv.gz", index=False)
    m = lookalike.report(syn, train, holdout=holdout, out=None, seed=0)
    ref = m.accuracy.reference
    return {
        "table": name, "rows": len(train), "columns": train.shape[1],
        "overall": m.accuracy.overall, "overall_ref": ref.overall,
        "univariate": m.accuracy.univariate, "univariate_ref": ref.univariate,
        "bivariate": m.accuracy.bivariate, "bivariate_ref": ref.bivariate,
        "trivariate": m.accuracy.trivariate, "trivariate_ref": ref.trivariate,
        "discriminator_auc": m.discriminator.auc,
        "discriminator_columns": dict(list((getattr(m, "discriminator_columns", None) or {}).items())[:3]),
        "dcr_share": m.privacy.dcr_share,
        "identical": m.privacy.identical_share, "identical_ref": m.privacy.holdout_identical_share,
        "train_s": train_s, "epochs": g.training_["epochs"], "gen_rows_s": len(syn) / gen_s, "peak_mb": peak_mb,
    }


def bar(r: dict) -> str:
    fails = []
    if r["discriminator_auc"] > 0.60:
        fails.append("auc")
    if r["overall"] < r["overall_ref"] - 0.006:
        fails.append("overall")
    if r["trivariate"] < r["trivariate_ref"] - 0.015:
        fails.append("tri")
    if r["dcr_share"] > 0.52:
        fails.append("dcr")
    if r["identical"] > r["identical_ref"] + 0.001:
        fails.append("identical")
    if r["train_s"] > 120:
        fails.append("time")
    return "ok" if not fails else "FAIL " + ",".join(fails)


def table(results: list[dict]) -> str:
    head = ("| table | rows×cols | overall (holdout) | uni (holdout) | bi (holdout) | tri (holdout) | disc. AUC "
            "| DCR share | identical (holdout) | train s | gen rows/s | peak RSS MB | bar |")
    lines = [head, "|" + "---|" * 13]
    for r in results:
        lines.append(
            f"| {r['table']} | {r['rows']}×{r['columns']} | {r['overall']:.3f} ({r['overall_ref']:.3f}) "
            f"| {r['univariate']:.3f} ({r['univariate_ref']:.3f}) | {r['bivariate']:.3f} ({r['bivariate_ref']:.3f}) "
            f"| {r['trivariate']:.3f} ({r['trivariate_ref']:.3f}) | {r['discriminator_auc']:.3f} | {r['dcr_share']:.3f} "
            f"| {100 * r['identical']:.1f}% ({100 * r['identical_ref']:.1f}%) | {r['train_s']:.0f} ({r['epochs']} ep) "
            f"| {r['gen_rows_s']:,.0f} | {r['peak_mb']:.0f} | {bar(r)} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", default=",".join(TABLES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)  # internal: run one table, print JSON
    ap.add_argument("options", nargs="*", help="training options as key=value (JSON values)")
    args = ap.parse_args()
    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.options)}
    if args.one:
        print("RESULT " + json.dumps(run_one(args.one, args.seed, options)))
        return
    results = []
    names = {"more": ",".join(MORE), "sklearn": ",".join(SKLEARN)}.get(args.tables, args.tables)
    for name in names.split(","):
        cmd = [sys.executable, __file__, "--one", name, "--seed", str(args.seed), *args.options]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode or not line:
            print(f"{name}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
            continue
        results.append(json.loads(line[0][7:]))
        r = results[-1]
        print(f"{name}: overall {r['overall']:.3f} ({r['overall_ref']:.3f}) tri {r['trivariate']:.3f} "
              f"({r['trivariate_ref']:.3f}) auc {r['discriminator_auc']:.3f} dcr {r['dcr_share']:.3f} "
              f"ident {r['identical']:.3f} ({r['identical_ref']:.3f}) {r['train_s']:.0f}s "
              f"{r['discriminator_columns']} {bar(r)}", flush=True)
    print(f"\n{date.today()}, {platform.machine()} {platform.processor() or ''}, options {options or 'defaults'}\n")
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
