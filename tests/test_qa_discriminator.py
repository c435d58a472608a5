"""What gives the synthetic data away: the discriminator's per-column and per-pair AUCs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lightgbm", reason="the QA extra is not installed: pip install 'lookalike[qa]'")
pytest.importorskip("plotly", reason="the QA extra is not installed: pip install 'lookalike[qa]'")

from lookalike.qa import Metrics, report  # noqa: E402


def draw(n: int, seed: int) -> pd.DataFrame:
    """Independent rows of one distribution: two tables drawn with different seeds are both 'real'."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "score": rng.normal(50, 15, n),
            "city": rng.choice(["Vienna", "Graz", "Linz", "Salzburg"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "x": x,
            "y": x + rng.normal(0, 0.1, n),  # y follows x closely
        }
    )


@pytest.fixture(scope="module")
def rounded(tmp_path_factory):
    """Synthetic rows from the true distribution, except 'score' rounded to multiples of 10."""
    synthetic = draw(600, 2)
    synthetic["score"] = (synthetic["score"] / 10).round() * 10
    out = tmp_path_factory.mktemp("disc") / "report.html"
    metrics = report(synthetic, draw(600, 1), out=out, json_out=out.with_suffix(".json"))
    return metrics, out


def test_the_broken_column_is_named_first(rounded):
    metrics, _ = rounded
    cols = metrics.discriminator_columns
    (top, top_auc), *rest = cols.items()
    assert top == "score"
    assert top_auc > 0.75
    assert all(auc < top_auc - 0.15 for _, auc in rest)
    assert list(cols.values()) == sorted(cols.values(), reverse=True)


def test_json_and_html_show_the_columns(rounded):
    metrics, out = rounded
    raw = json.loads(out.with_suffix(".json").read_text())
    assert list(raw["discriminator_columns"]) == list(metrics.discriminator_columns)
    assert raw["discriminator_columns"]["score"] == pytest.approx(metrics.discriminator_columns["score"])
    assert all(set(p) == {"columns", "auc", "lift"} for p in raw["discriminator_pairs"])
    assert Metrics.model_validate(raw).discriminator_columns == metrics.discriminator_columns
    page = out.read_text()
    assert "What gives the synthetic data away" in page
    assert "<tr class='top'><td>score</td>" in page
    assert "most telling: score" in page  # the summary card


def test_a_broken_pair_shows_as_lift():
    """Each column's own distribution is right; only how x and y go together is broken."""
    synthetic = draw(600, 2)
    synthetic["y"] = np.random.default_rng(3).permutation(synthetic["y"].to_numpy())
    metrics = report(synthetic, draw(600, 1), out=None)
    assert max(metrics.discriminator_columns.values()) < 0.65  # no column gives it away alone
    pair = metrics.discriminator_pairs[0]
    assert set(pair.columns) == {"x", "y"}
    assert pair.auc > 0.8 and pair.lift > 0.2


def test_real_against_real_gives_nothing_away():
    metrics = report(draw(600, 2), draw(600, 1), out=None)
    assert all(auc < 0.62 for auc in metrics.discriminator_columns.values())
