"""QA report on UCI Adult: the figures must match the published reference figures.

Uses ``../shared/data/adult`` (see its README); skipped when the shared data is absent,
failed instead under ``LOOKALIKE_REQUIRE_SHARED_DATA=1`` (CI).
Each report is computed once per module; together these tests take well under a minute.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lightgbm", reason="the QA extra is not installed: pip install 'lookalike[qa]'")
pytest.importorskip("plotly", reason="the QA extra is not installed: pip install 'lookalike[qa]'")

from conftest import shared_file  # noqa: E402
from lookalike.qa import report  # noqa: E402

pytestmark = pytest.mark.slow  # needs the shared data; deselect with -m "not slow" for a quick loop


@pytest.fixture(scope="module")
def train() -> pd.DataFrame:
    return pd.read_csv(shared_file("adult", "train.csv.gz"))


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    return pd.read_csv(shared_file("adult", "holdout.csv.gz"))


@pytest.fixture(scope="module")
def holdout_as_synthetic(train, holdout):
    """The published reference row: the holdout scored as if it were synthetic."""
    return report(holdout, train, out=None, seed=0)


@pytest.fixture(scope="module")
def unseen_halves(train, holdout, tmp_path_factory):
    """Half the holdout as 'synthetic', the other half as holdout: a perfect, private generator.

    The synthetic rows must not also be the holdout rows, or every one would sit on its own
    copy in the holdout and the DCR share would mean nothing.
    """
    order = np.random.default_rng(0).permutation(len(holdout))
    half = len(holdout) // 2
    out = tmp_path_factory.mktemp("adult") / "report.html"
    metrics = report(
        holdout.iloc[order[:half]], train, holdout.iloc[order[half:]], target="income", out=out, seed=0
    )
    return metrics, out


def test_holdout_as_synthetic_matches_published_accuracy(holdout_as_synthetic):
    a = holdout_as_synthetic.accuracy
    assert a.overall == pytest.approx(0.989, abs=0.003)
    assert a.univariate == pytest.approx(0.994, abs=0.003)
    assert a.bivariate == pytest.approx(0.984, abs=0.004)
    assert a.trivariate == pytest.approx(0.969, abs=0.006)
    assert holdout_as_synthetic.discriminator.auc < 0.56
    assert holdout_as_synthetic.privacy.identical_share == pytest.approx(0.001, abs=0.001)


def test_unseen_rows_have_dcr_share_one_half(unseen_halves):
    metrics, _ = unseen_halves
    assert metrics.privacy.dcr_share == pytest.approx(0.50, abs=0.02)
    assert not metrics.privacy.flag
    # the reference is the other half against train: a little noisier than the full holdout
    assert metrics.accuracy.reference.overall == pytest.approx(0.989, abs=0.005)
    assert metrics.utility.task == "binary"
    assert metrics.utility.synthetic == pytest.approx(metrics.utility.reference, abs=0.02)


def test_the_dcr_share_hardly_depends_on_the_rows_sampled(train, holdout):
    """Adult's training table is larger than the privacy sample, so each report seed draws
    other rows; the share is averaged over several draws, so it moves little with the seed
    (one draw: 0.492-0.502 over seeds 0-3 on these halves; eight averaged: 0.498-0.502)."""
    from lookalike.qa import scoring
    from lookalike.qa.columns import infer_columns

    order = np.random.default_rng(0).permutation(len(holdout))
    half = len(holdout) // 2
    unseen, rest = holdout.iloc[order[:half]], holdout.iloc[order[half:]]
    columns = infer_columns(train)
    shares = []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        reference = scoring.Reference.build(train, rest, columns, rng, progress=False)
        shares.append(scoring._privacy(unseen, reference, rng)[0].dcr_share)
    assert max(shares) - min(shares) < 0.006
    assert all(abs(s - 0.5) < 0.01 for s in shares)


def test_training_rows_as_synthetic_fail_privacy(train, holdout):
    metrics = report(train, train, holdout, out=None, seed=0)
    p = metrics.privacy
    assert p.dcr_share >= 0.99
    assert p.identical_share == 1.0
    assert p.holdout_identical_share < 0.01
    assert p.flag and p.flag_reasons


def test_independent_marginals_keep_univariate_lose_bivariate(train):
    rng = np.random.default_rng(0)
    independent = pd.DataFrame({c: train[c].to_numpy()[rng.permutation(len(train))] for c in train.columns})
    metrics = report(independent, train, out=None, seed=0)
    a = metrics.accuracy
    assert a.univariate >= 0.98
    assert a.bivariate < a.univariate - 0.04
    assert a.trivariate < a.bivariate
    assert metrics.discriminator.auc >= 0.8


def test_shuffled_column_has_the_lowest_bivariate_accuracy(train):
    rng = np.random.default_rng(0)
    shuffled = train.assign(occupation=train["occupation"].to_numpy()[rng.permutation(len(train))])
    metrics = report(shuffled, train, out=None, seed=0)
    by_col = {c.column: c.bivariate for c in metrics.accuracy.columns}
    worst = by_col.pop("occupation")
    assert worst < min(by_col.values())


def test_html_is_self_contained(unseen_halves):
    _, out = unseen_halves
    page = out.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src\s*=\s*[\"']?https?://", page, re.I)
    assert not re.search(r"<link[^>]+href\s*=\s*[\"']?https?://", page, re.I)
    assert not re.search(r"@import\s+(url\()?[\"']?https?://", page, re.I)
    assert page.count("include_plotlyjs") == 0
    for section in ("Summary", "Accuracy per column", "Univariate", "Bivariate", "Privacy", "Discriminator",
                    "ML utility", "Correlations"):
        assert f"<h2>{section}" in page
