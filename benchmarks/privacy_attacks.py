"""Privacy attack suite on adult: the issue's bars for a default model and for copied rows.

(a) train a default model on train.csv.gz (holdout.csv.gz kept aside), sample as many
    rows, write the QA report: singling-out, linkability and inference risks should be at
    most 0.05 (upper 95% end at most 0.10) and the membership AUC at most 0.55;
(b) 5,000 training rows presented as the synthetic table (and as the training table):
    singling-out risk at least 0.5, membership AUC at least 0.9;
(c) for scale, a perfect generator: half the holdout as the synthetic table, the other
    half as the holdout. Its figures are the attacks' noise floor at this budget.
Prints the figures and the seconds of the attack section and of the whole report.

    python benchmarks/privacy_attacks.py [--model saved.lookalike] [--synthetic saved.parquet] [--json out.json]

``--model`` reuses (or, when missing, writes) a trained model; ``--synthetic`` reuses
(or writes) the sampled table, so the attacks can be re-run without retraining.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import lookalike

DATA = Path(os.environ.get("LOOKALIKE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "adult"


def summary(m: lookalike.qa.Metrics) -> dict:
    a = m.privacy.attacks
    out: dict = {"seconds_attacks": round(m.timings.attacks, 1), "seconds_report": round(m.timings.total, 1),
                 "verdict": a.verdict}
    for name in ("singling_out", "singling_out_univariate", "linkability"):
        r = getattr(a, name)
        if r is not None:
            fields = ("attack_rate", "control_rate", "risk", "ci_low", "ci_high")
            out[name] = {k: round(getattr(r, k), 4) for k in fields}
            out[name]["attempts"] = r.attempts
    if a.inference is not None:
        worst = a.inference.columns[0]
        pooled = a.inference.pooled
        out["inference"] = {"pooled": [round(pooled.risk, 4), round(pooled.ci_low, 4), round(pooled.ci_high, 4)],
                            "max_risk": round(a.inference.max_risk, 4), "mean_risk": round(a.inference.mean_risk, 4),
                            "worst_column": worst.column, "worst_ci_high": round(worst.ci_high, 4),
                            "columns": {c.column: [round(c.attack_rate, 4), round(c.control_rate, 4), round(c.risk, 4),
                                                   round(c.ci_high, 4)] for c in a.inference.columns}}
    out["membership"] = {"auc": round(a.membership.auc, 4), "ci": [round(a.membership.ci_low, 4),
                                                                    round(a.membership.ci_high, 4)]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, help="trained model to reuse, or where to save one")
    ap.add_argument("--synthetic", type=Path, help="sampled table to reuse, or where to save it (Parquet)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    train = pd.read_csv(DATA / "train.csv.gz")
    holdout = pd.read_csv(DATA / "holdout.csv.gz")
    results: dict = {"load_average": os.getloadavg()[0], "cpus": os.cpu_count()}

    if args.synthetic is not None and args.synthetic.exists():
        synthetic = pd.read_parquet(args.synthetic)
    else:
        if args.model is not None and args.model.exists():
            g = lookalike.load(args.model)
        else:
            t = time.perf_counter()
            g = lookalike.train(train, holdout=holdout, seed=0)
            results["seconds_training"] = round(time.perf_counter() - t, 1)
            if args.model is not None:
                g.save(args.model)
        synthetic = g.sample(len(train), seed=0)
        if args.synthetic is not None:
            synthetic.to_parquet(args.synthetic)
    with tempfile.TemporaryDirectory() as tmp:  # the whole report, HTML included, is timed
        m = lookalike.report(synthetic, train, holdout=holdout, out=Path(tmp) / "report.html", seed=0)
    results["default_model"] = summary(m)
    print(json.dumps({"default_model": results["default_model"]}, indent=1), flush=True)

    copied = train.sample(5_000, random_state=0)
    m = lookalike.report(copied, copied, holdout=holdout, out=None, seed=0)
    results["copied_rows"] = summary(m)
    print(json.dumps({"copied_rows": results["copied_rows"]}, indent=1), flush=True)
    order = np.random.default_rng(0).permutation(len(holdout))
    half = len(holdout) // 2
    m = lookalike.report(holdout.iloc[order[:half]], train, holdout=holdout.iloc[order[half:]], out=None, seed=0)
    results["unseen_rows"] = summary(m)
    print(json.dumps({"unseen_rows": results["unseen_rows"]}, indent=1), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
