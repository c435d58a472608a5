"""Score every reference synthetic version of Adult and print our figures beside the published ones.

    python benchmarks/calibrate_qa.py [--out-dir DIR]

Reads ``../shared/data/adult`` (train, holdout, reference/*.csv.gz). The "(holdout itself)"
row scores one half of the holdout against train with the other half as holdout, so its
DCR share is meaningful; its accuracy uses the full holdout (the published definition).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from lookalike.qa import report  # noqa: E402

ADULT = Path(os.environ.get("LOOKALIKE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "adult"

# overall, univariate, bivariate, trivariate, DCR share, identical share, discriminator AUC
PUBLISHED = {
    "(holdout itself)": (0.989, 0.994, 0.984, 0.969, 0.50, 0.001, 0.50),
    "mostly.csv.gz": (0.989, 0.993, 0.985, 0.970, 0.513, 0.0, 0.49),
    "mostlyai-engine-2.7.3.csv.gz": (0.979, 0.986, 0.971, 0.951, 0.511, 0.0, 0.58),
    "synthpop.csv.gz": (0.992, 0.996, 0.987, 0.973, 0.559, 0.010, 0.52),
    "ctgan.csv.gz": (0.896, 0.924, 0.869, 0.818, 0.496, 0.0, 0.97),
    "gaussian_copula.csv.gz": (0.789, 0.846, 0.731, 0.632, 0.483, 0.0, 1.00),
}
HEADER = ("overall", "univariate", "bivariate", "trivariate", "DCR share", "identical", "disc. AUC")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, help="also write each HTML report here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not (ADULT / "train.csv.gz").exists():
        sys.exit(f"shared data not found at {ADULT}")
    if args.out_dir:
        args.out_dir.mkdir(parents=True, exist_ok=True)
    train = pd.read_csv(ADULT / "train.csv.gz")
    holdout = pd.read_csv(ADULT / "holdout.csv.gz")

    rows = []
    order = np.random.default_rng(args.seed).permutation(len(holdout))
    half_a, half_b = holdout.iloc[order[: len(holdout) // 2]], holdout.iloc[order[len(holdout) // 2 :]]
    t = time.perf_counter()
    full = report(holdout, train, out=None, seed=args.seed)
    halves = report(half_a, train, half_b, out=None, seed=args.seed)
    rows.append(("(holdout itself)", _ours(full, dcr_from=halves), time.perf_counter() - t))
    for path in sorted((ADULT / "reference").glob("*.csv.gz")):
        out = args.out_dir / f"{path.name.removesuffix('.csv.gz')}.html" if args.out_dir else None
        t = time.perf_counter()
        m = report(path, train, holdout, target="income", out=out, seed=args.seed, title=f"Adult: {path.name}")
        rows.append((path.name, _ours(m), time.perf_counter() - t))

    print(_table(rows))


def _ours(m, dcr_from=None) -> tuple[float, ...]:
    a, p = m.accuracy, (dcr_from or m).privacy
    return (a.overall, a.univariate, a.bivariate, a.trivariate, p.dcr_share, m.privacy.identical_share,
            m.discriminator.auc)


def _table(rows) -> str:
    lines = [
        "| file | " + " | ".join(HEADER) + " | seconds |",
        "|---|" + "---|" * (len(HEADER) + 1),
    ]
    for name, ours, seconds in rows:
        pub = PUBLISHED.get(name)
        cells = []
        for k, x in enumerate(ours):
            fmt = "{:.1%}" if HEADER[k] == "identical" else ("{:.2f}" if HEADER[k] == "disc. AUC" else "{:.3f}")
            cell = fmt.format(x)
            if pub is not None:
                cell += " (" + fmt.format(pub[k]) + ")"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {seconds:.1f} |")
    lines.append("")
    lines.append("ours (published); accuracy should be within ±0.005, DCR share within ±0.02.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
