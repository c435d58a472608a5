"""How much a table's DCR share moves with the report seed, with one sample and with the
report's averaged samples.

    python benchmarks/dcr_noise.py --table housing [--seeds 6] [--synthetic FILE] [key=value ...]

Trains with defaults on the flat suite's split of the table (``flat_suite.split``; seed 0)
and draws as many rows, unless ``--synthetic`` gives rows already drawn (e.g. a file that
``FLAT_SUITE_KEEP=DIR python benchmarks/flat_suite.py`` kept; a file that does not exist yet
is written with the rows drawn here). Then scores only the privacy
part with report seeds 0..N-1: once with a single 10,000-row sample per table, once with
the report's ``DCR_DRAWS`` samples averaged. Prints every share, their mean and sd.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from flat_suite import TABLES, split


def shares(synthetic: pd.DataFrame, train: pd.DataFrame, holdout: pd.DataFrame, seeds: int, draws: int) -> list[float]:
    from lookalike.qa import privacy, scoring
    from lookalike.qa.columns import infer_columns

    kept, privacy.DCR_DRAWS = privacy.DCR_DRAWS, draws
    try:
        columns = infer_columns(train)
        out = []
        for seed in range(seeds):
            rng = np.random.default_rng(seed)
            reference = scoring.Reference.build(train, holdout, columns, rng, progress=False)
            out.append(scoring._privacy(synthetic, reference, rng)[0].dcr_share)
        return out
    finally:
        privacy.DCR_DRAWS = kept


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", required=True, choices=list(TABLES))
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--synthetic", default=None, help="rows already drawn (CSV or Parquet; written when missing)")
    ap.add_argument("options", nargs="*", help="training options as key=value (JSON values)")
    args = ap.parse_args()
    train, holdout = split(args.table)
    if args.synthetic and Path(args.synthetic).exists():
        read = pd.read_parquet if args.synthetic.endswith(".parquet") else pd.read_csv
        synthetic = read(args.synthetic)
    else:
        import lookalike

        options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.options)}
        g = lookalike.train(train, holdout=holdout, seed=0, progress=False, **options)
        synthetic = g.sample(len(train), seed=0)
        if args.synthetic:  # kept for the next run
            synthetic.to_parquet(args.synthetic) if args.synthetic.endswith(".parquet") else synthetic.to_csv(
                args.synthetic, index=False)
    from lookalike.qa.privacy import DCR_DRAWS

    for draws in (1, DCR_DRAWS):
        s = shares(synthetic, train, holdout, args.seeds, draws)
        print(f"{args.table}, {draws} sample(s) per share: {' '.join(f'{x:.4f}' for x in s)}; "
              f"mean {np.mean(s):.4f}, sd {np.std(s, ddof=1):.4f}", flush=True)


if __name__ == "__main__":
    main()
