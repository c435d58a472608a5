"""The privacy attack suite on tiny frames made here: copies of the training rows must be
caught, fresh rows of the same population must not, and the report must carry the result."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lightgbm", reason="the QA extra is not installed: pip install 'lookalike[qa]'")
pytest.importorskip("plotly", reason="the QA extra is not installed: pip install 'lookalike[qa]'")

from lookalike.errors import InputError  # noqa: E402
from lookalike.privacy.attacks import run_attacks  # noqa: E402
from lookalike.qa import Metrics, report  # noqa: E402

ROWS = 300


def people(n: int, seed: int) -> pd.DataFrame:
    """Draws of one population: related columns of every kind, a few nulls."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n)
    job = rng.choice(["clerk", "nurse", "engineer", "teacher", "driver"], n, p=[0.3, 0.2, 0.2, 0.2, 0.1])
    income = np.round(age * 800 + (job == "engineer") * 20_000 + rng.normal(0, 8_000, n), 2)
    income[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "age": age,
            "job": job,
            "income": income,
            "city": rng.choice(["Vienna", "Graz", "Linz", "Salzburg", "Innsbruck", "Bregenz"], n),
            "member": rng.random(n) < 0.3,
            "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
            "children": rng.poisson(1.2, n),
        }
    )


@pytest.fixture(scope="module")
def tables():
    """Training rows, held-out rows and more rows of the same population (never trained on)."""
    return people(ROWS, 1), people(ROWS, 2), people(ROWS, 3)


def test_copied_training_rows_are_caught(tables):
    train, holdout, _ = tables
    a = run_attacks(train.copy(), train, holdout, seed=0)
    so = a.singling_out
    assert so.attempts >= 0.9 * ROWS  # rows with a duplicate cannot be singled out
    assert so.attack_rate == 1.0  # a rule isolating a copy isolates its original
    assert so.risk > 0.5 and so.ci_low > 0.5 and so.verdict == "high"
    assert a.membership.auc > 0.9 and a.membership.verdict == "high"
    assert a.inference.max_risk > 0.5 and a.linkability.risk > 0.3
    assert a.inference.pooled.risk > 0.5 and a.inference.verdict == "high"
    assert a.verdict == "high"


def test_rows_of_the_same_population_reveal_nothing_beyond_the_control(tables):
    """Fresh rows of the population stand in for a perfect generator: the attacks do as
    well on training rows as on the control, so every risk is near 0."""
    train, holdout, fresh = tables
    a = run_attacks(fresh, train, holdout, seed=0)
    for r in (a.singling_out, a.linkability):
        assert r.risk <= 0.1
        assert r.ci_high <= 0.25  # 300 attempts: each rate is known to about +-5 points
    assert a.inference.mean_risk <= 0.1
    # pooled over the secret columns the interval is narrow: no leak shows as none
    assert a.inference.pooled.risk <= 0.05 and a.inference.pooled.ci_high <= 0.15
    # a chance AUC on 300 + 300 rows has a standard error of about 0.024
    assert a.membership.auc == pytest.approx(0.5, abs=0.075)
    assert a.membership.ci_low < 0.5 < a.membership.ci_high
    assert a.membership.verdict != "high"


def test_same_seed_same_figures(tables):
    train, holdout, fresh = tables
    first, again = run_attacks(fresh, train, holdout, seed=3), run_attacks(fresh, train, holdout, seed=3)
    assert first.model_dump() == again.model_dump()


def test_target_is_the_only_secret_and_must_exist(tables):
    train, holdout, fresh = tables
    a = run_attacks(fresh, train, holdout, target="job", seed=0)
    assert [c.column for c in a.inference.columns] == ["job"]
    with pytest.raises(InputError, match="'salary'"):
        run_attacks(fresh, train, holdout, target="salary")


def test_missing_columns_are_named(tables):
    train, holdout, fresh = tables
    with pytest.raises(InputError, match="'city'"):
        run_attacks(fresh.drop(columns=["city"]), train, holdout)


def test_report_carries_the_attacks(tables, tmp_path):
    train, holdout, _ = tables
    out = tmp_path / "report.html"
    metrics = report(train.copy(), train, holdout, out=out, json_out=tmp_path / "m.json")
    attacks = json.loads((tmp_path / "m.json").read_text())["privacy"]["attacks"]
    for name in ("singling_out", "linkability"):
        assert {"attack_rate", "control_rate", "risk", "ci_low", "ci_high", "attempts"} <= set(attacks[name])
    assert {c["column"] for c in attacks["inference"]["columns"]} == set(train.columns)
    assert attacks["membership"]["auc"] > 0.9
    # copies are a privacy failure, and the attacks say so in the flag too
    assert metrics.privacy.flag and any("singling out" in r for r in metrics.privacy.flag_reasons)
    assert Metrics.model_validate_json((tmp_path / "m.json").read_text()).privacy.attacks.verdict == "high"
    page = out.read_text()
    assert "<h3>Attacks</h3>" in page and "Membership inference" in page and "Linkability" in page
    assert "class='v-high'" in page


def test_attacks_need_a_holdout_and_can_be_turned_off(tables, tmp_path):
    train, holdout, fresh = tables
    no_holdout = report(fresh, train, out=tmp_path / "a.html")
    assert no_holdout.privacy.attacks is None and "holdout" in no_holdout.privacy.attacks_skipped
    assert "privacy attacks are skipped" in (tmp_path / "a.html").read_text()
    off = report(fresh, train, holdout, out=None, attacks=False)
    assert off.privacy.attacks is None and "turned off" in off.privacy.attacks_skipped
    tiny = report(fresh.head(5), train, holdout, out=None)
    assert tiny.privacy.attacks is None and "synthetic has 5 row(s)" in tiny.privacy.attacks_skipped


def test_cli_no_attacks(tables, tmp_path):
    from typer.testing import CliRunner

    from lookalike.cli import app

    train, holdout, fresh = tables
    paths = {}
    for name, df in (("train", train), ("holdout", holdout), ("synthetic", fresh)):
        paths[name] = tmp_path / f"{name}.csv"
        df.to_csv(paths[name], index=False)
    base = ["report", "--synthetic", str(paths["synthetic"]), "--train", str(paths["train"]),
            "--holdout", str(paths["holdout"]), "--out", str(tmp_path / "r.html"), "-q"]
    result = CliRunner().invoke(app, base + ["--json", str(tmp_path / "on.json")])
    assert result.exit_code == 0, result.output
    assert "privacy attacks:" in result.output
    assert json.loads((tmp_path / "on.json").read_text())["privacy"]["attacks"]["membership"] is not None
    result = CliRunner().invoke(app, base + ["--no-attacks", "--json", str(tmp_path / "off.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "off.json").read_text())["privacy"]["attacks"] is None
