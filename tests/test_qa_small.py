"""QA report on tiny frames made here: mixed dtypes, edge cases, errors, determinism."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lightgbm", reason="the QA extra is not installed: pip install 'lookalike[qa]'")
pytest.importorskip("plotly", reason="the QA extra is not installed: pip install 'lookalike[qa]'")

from lookalike.errors import InputError  # noqa: E402
from lookalike.qa import Metrics, report  # noqa: E402


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """A few hundred rows of every kind the report must handle."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    return pd.DataFrame(
        {
            "age": age,
            "income": np.round(age * 1000 + rng.normal(0, 5000, n), 2),
            "city": pd.Series(rng.choice(["Vienna", "Graz", "Linz", "<b>Salzburg</b>"], n), dtype="str"),
            "member": rng.random(n) < 0.3,
            "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
            "born": [f"{1950 + a % 50}-0{1 + a % 9}-1{a % 10}" for a in age],  # ISO date strings
            "empty": np.full(n, np.nan),
            "notes": pd.Series([None] * n, dtype=object),
            "level": rng.choice(["low", "mid", "high"], n),
        }
    )


@pytest.fixture(scope="module")
def frames():
    return make_frame(400, 1), make_frame(300, 2), make_frame(300, 3)


@pytest.fixture(scope="module")
def small_report(frames, tmp_path_factory):
    train, synthetic, holdout = frames
    out = tmp_path_factory.mktemp("qa") / "report.html"
    metrics = report(synthetic, train, holdout, target="member", out=out, json_out=out.with_suffix(".json"))
    return metrics, out


def test_mixed_dtypes_give_a_full_report(small_report):
    metrics, out = small_report
    kinds = {c.column: c.kind for c in metrics.accuracy.columns}
    assert kinds["joined"] == "datetime" and kinds["born"] == "datetime"  # ISO strings detected
    assert kinds["member"] == "categorical" and kinds["city"] == "categorical"
    assert kinds["age"] == "numeric"
    # all-null columns: identical (null) distributions in both tables
    by_col = {c.column: c for c in metrics.accuracy.columns}
    assert by_col["empty"].univariate == pytest.approx(1.0)
    assert by_col["notes"].univariate == pytest.approx(1.0)
    # the "synthetic" frame is a fresh draw of the same process as the holdout: it scores like the holdout
    assert metrics.accuracy.overall == pytest.approx(metrics.accuracy.reference.overall, abs=0.02)
    assert metrics.utility is not None and metrics.utility.task == "binary"
    assert metrics.privacy.dcr_share is not None
    assert out.exists() and out.with_suffix(".json").exists()


def test_json_round_trips_into_metrics(small_report):
    metrics, out = small_report
    loaded = Metrics.model_validate(json.loads(out.with_suffix(".json").read_text()))
    assert loaded.accuracy.overall == pytest.approx(metrics.accuracy.overall)
    assert loaded.discriminator.auc == pytest.approx(metrics.discriminator.auc)


def test_html_escapes_data_values(small_report):
    _, out = small_report
    page = out.read_text()
    assert "&lt;b&gt;Salzburg&lt;/b&gt;" in page  # in the record tables
    assert "<b>Salzburg</b>" not in page


def test_same_seed_same_figures(frames):
    train, synthetic, holdout = frames
    a = report(synthetic, train, holdout, out=None, seed=7)
    b = report(synthetic, train, holdout, out=None, seed=7)
    strip = {"timings"}
    assert a.model_dump(exclude=strip) == b.model_dump(exclude=strip)


def test_missing_target_names_the_column(frames):
    train, synthetic, holdout = frames
    with pytest.raises(InputError, match="'salary'"):
        report(synthetic, train, holdout, target="salary", out=None)


def test_missing_synthetic_columns_are_named(frames):
    train, synthetic, holdout = frames
    with pytest.raises(InputError, match="'city'.*'level'|'level'.*'city'"):
        report(synthetic.drop(columns=["city", "level"]), train, holdout, out=None)


def test_output_folder_must_exist(frames, tmp_path):
    train, synthetic, holdout = frames
    with pytest.raises(InputError, match="does not exist"):
        report(synthetic, train, holdout, out=tmp_path / "nope" / "report.html")


def test_without_holdout_reference_and_dcr_share_are_omitted(frames):
    train, synthetic, _ = frames
    metrics = report(synthetic, train, target="level", out=None)
    assert metrics.accuracy.reference is None
    assert metrics.privacy.dcr_share is None
    assert metrics.utility is None
    assert any("holdout" in n for n in metrics.notes)


def test_multiclass_and_numeric_targets(frames):
    train, synthetic, holdout = frames
    multi = report(synthetic, train, holdout, target="level", out=None)
    assert multi.utility.task == "multiclass" and multi.utility.synthetic_f1_macro is not None
    numeric = report(synthetic, train, holdout, target="income", out=None)
    assert numeric.utility.task == "regression" and numeric.utility.reference > 0.5  # income follows age


def test_model_sample_gives_model_and_data_qa(frames, tmp_path):
    train, synthetic, holdout = frames
    seeded = synthetic.assign(city="Vienna")  # conditioned on purpose: differs from train
    out = tmp_path / "r.html"
    metrics = report(seeded, train, holdout, model_sample=synthetic, out=out, settings={"epochs": 3, "path": tmp_path})
    assert metrics.model is not None
    assert metrics.model.accuracy.univariate > metrics.accuracy.univariate
    assert metrics.settings["path"] == str(tmp_path)
    page = out.read_text()
    assert "Model QA" in page and "Data QA" in page
    assert page.count("* plotly.js v") == 1  # inlined once for both parts


def test_one_row_tables(frames):
    """One synthetic row: a column's univariate accuracy is the share of training rows in
    that row's bin (1 - TVD against a point mass), checked by hand on the categoricals."""
    train, synthetic, holdout = frames
    one, train50 = synthetic.iloc[:1], train.iloc[:50]
    metrics = report(one, train50, holdout.iloc[:40], out=None)
    by_col = {c.column: c.univariate for c in metrics.accuracy.columns}
    for col in ("city", "member", "level"):
        assert by_col[col] == pytest.approx((train50[col] == one[col].iloc[0]).mean()), col
    assert by_col["empty"] == pytest.approx(1.0)  # null in both
    assert metrics.rows["synthetic"] == 1
