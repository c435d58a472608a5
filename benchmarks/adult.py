"""Flat-table benchmark: train with defaults on adult, generate 24,421 rows, score against
the holdout with the QA report. Prints train seconds, generation rows/s, peak RSS and
the quality figures.

    python benchmarks/adult.py [--device cpu|cuda] [--json out.json] [key=value training options]

Option values are JSON (``max_epochs=5``, ``value_protection=false``, ``types='{"age": "categorical"}'``);
a value that is not JSON is taken as a string (``model_size=medium``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import pandas as pd

import lookalike

DATA = Path(os.environ.get("LOOKALIKE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "adult"


def parse_option(text: str) -> tuple[str, object]:
    """``key=value`` -> (key, value): the value read as JSON, else kept as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise SystemExit(f"training option {text!r}: expected key=value, e.g. max_epochs=5")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--json", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--report", default=None, help="also write the HTML report here")
    ap.add_argument("options", nargs="*", help="training options as key=value (JSON values)")
    args = ap.parse_args()
    options = dict(parse_option(o) for o in args.options)

    train, holdout = pd.read_csv(DATA / "train.csv.gz"), pd.read_csv(DATA / "holdout.csv.gz")
    t0 = time.perf_counter()
    g = lookalike.train(train, holdout=holdout, seed=args.seed, device=args.device, progress=False, **options)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    syn = g.sample(len(train), seed=args.seed)
    gen_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    edu = dict(zip(train["education"], train["education-num"]))
    edu_ok = float((syn["education"].map(edu) == syn["education-num"]).mean())
    m = lookalike.report(syn, train, holdout=holdout, target="income", out=args.report, seed=0)
    out = {
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
        "device": g.training_["device"],
        "train_seconds": round(train_s, 1),
        "epochs": g.training_["epochs"],
        "generate_seconds": round(gen_s, 2),
        "generate_rows_per_s": round(len(syn) / gen_s),
        "peak_rss_mb": round(peak_mb),
        "education_1to1": round(edu_ok, 4),
        "overall": round(m.accuracy.overall, 4),
        "univariate": round(m.accuracy.univariate, 4),
        "bivariate": round(m.accuracy.bivariate, 4),
        "trivariate": round(m.accuracy.trivariate, 4),
        "discriminator_auc": round(m.discriminator.auc, 3),
        "dcr_share": round(m.privacy.dcr_share, 3),
        "identical_share": m.privacy.identical_share,
        "holdout_identical_share": m.privacy.holdout_identical_share,
        "utility": m.utility.model_dump() if m.utility else None,
    }
    print(json.dumps(out, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    sys.exit(main())
