"""Differential privacy: the budget is spent and recorded, the encoders' statistics are DP,
seeded runs repeat, and the interfaces pass the option through."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("opacus", reason="differential privacy needs opacus (pip install 'lookalike[dp]')")

import lookalike  # noqa: E402
from lookalike.errors import ConfigError  # noqa: E402

FAST = {"epochs": 2.0}  # few DP-SGD steps: these tests check the plumbing, benchmarks/dp.py the accuracy


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """1,500 rows: a categorical with one category held by a single row, a continuous and an
    integer numeric column, dates, and a column with nulls."""
    rng = np.random.default_rng(3)
    n = 1500
    df = pd.DataFrame({
        "color": rng.choice(["red", "green", "blue"], n, p=[0.5, 0.3, 0.2]),
        "height": np.round(rng.normal(170, 10, n), 1),
        "kids": rng.integers(0, 4, n),
        "joined": pd.to_datetime("2021-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D"),
        "note": np.where(rng.random(n) < 0.4, None, rng.choice(["a", "b"], n)),
    })
    df.loc[7, "color"] = "one-of-a-kind"
    return df


@pytest.fixture(scope="module")
def dp_model(frame):
    return lookalike.train(frame, differential_privacy={"epsilon": 4.0, **FAST}, seed=5, progress=False,
                           holdout_share=0.0)


def test_dp_model_trains_samples_and_spends_at_most_its_budget(dp_model, tmp_path):
    dp = dp_model.training_["differential_privacy"]
    assert 0 < dp["epsilon_spent"] <= 4.0
    assert 0 < dp["epsilon_statistics"] < dp["epsilon_spent"]
    assert dp["delta_spent"] == 1e-5
    syn = dp_model.sample(300, seed=0)
    assert list(syn.columns) == ["color", "height", "kids", "joined", "note"]
    assert len(syn) == 300
    path = dp_model.save(tmp_path / "dp.lookalike")
    again = lookalike.load(path)
    assert again.training_["differential_privacy"]["epsilon_spent"] == dp["epsilon_spent"]
    assert again.config_.differential_privacy.epsilon == 4.0


def test_the_report_states_the_guarantee(frame, dp_model, tmp_path):
    pytest.importorskip("plotly", reason="the HTML report needs the qa extra")
    html = tmp_path / "r.html"
    dp_model.report(out=html, train=frame, attacks=False)
    spent = dp_model.training_["differential_privacy"]["epsilon_spent"]
    assert f"Differential privacy:</b> the model was trained with ε = {spent} spent" in html.read_text()


def test_the_exact_row_count_is_not_in_the_model(dp_model, frame):
    assert dp_model.training_["val_loss"] is None
    assert all(c.n_unique == 0 for c in dp_model.schema_.columns)
    assert abs(dp_model.training_["rows"] - len(frame)) < 200  # noisy, but near


def test_a_category_held_by_one_row_never_appears(frame):
    g = lookalike.train(frame, differential_privacy={"epsilon": 0.5, **FAST}, seed=1, progress=False)
    color = g.encoder_.encoder("color")
    assert "one-of-a-kind" not in color.categories_
    assert "one-of-a-kind" not in set(g.sample(2000, seed=1)["color"])


def test_numeric_edges_are_noisy_quantiles_not_data_values(dp_model, frame):
    height = dp_model.encoder_.encoder("height")
    assert height.edges_, "a continuous column gets bins"
    assert frame["height"].min() not in height.edges_ and frame["height"].max() not in height.edges_
    assert height.min_ != frame["height"].min() and height.max_ != frame["height"].max()
    h = frame["height"]
    assert height.min_ <= h.quantile(0.05) and height.max_ >= h.quantile(0.95)  # the noisy range covers the bulk
    assert height.max_ - height.min_ < 10 * (h.max() - h.min())


def test_dp_statistics_keep_the_columns_shape(dp_model):
    kids = dp_model.encoder_.encoder("kids")
    assert kids.points_ == [0.0, 1.0, 2.0, 3.0]  # few values, each held by many rows: exact values
    assert dp_model.encoder_.encoder("joined").date_only_
    assert dp_model.encoder_.encoder("note").has_null_


def test_seeded_dp_runs_repeat(frame):
    small = frame.head(600)
    a = lookalike.train(small, differential_privacy={"epsilon": 3.0, **FAST}, seed=11, progress=False)
    b = lookalike.train(small, differential_privacy={"epsilon": 3.0, **FAST}, seed=11, progress=False)
    for (name, p), q in zip(a.model_.state_dict().items(), b.model_.state_dict().values()):
        assert torch.equal(p, q), name
    pd.testing.assert_frame_equal(a.sample(100, seed=2), b.sample(100, seed=2))


def test_clipping_norms_match_per_row_gradients():
    """The per-row gradient norms computed from activations equal torch.func's per-row gradients."""
    from lookalike.model import TabularModel
    from lookalike.privacy.dp import _clipped_sum_functorch, clipped_gradient_sum
    from lookalike.training import random_ranks

    gen = torch.Generator().manual_seed(0)
    model = TabularModel([5, 3, 20, 4], [0, 1, 2, 2], size="small", first_layer="dense")
    model.eval()
    tokens = torch.stack([torch.randint(0, c, (12,), generator=gen) for c in (5, 3, 20, 4)], 1)
    ranks = random_ranks(12, 3, gen, torch.device("cpu"))
    weights = torch.ones(4)
    params = [p for p in model.parameters()]
    ghost, norms = clipped_gradient_sum(model, tokens, ranks, weights, max_norm=0.5)
    exact, exact_norms = _clipped_sum_functorch(model, tokens, ranks, weights, 0.5, params)
    torch.testing.assert_close(norms, exact_norms, rtol=1e-4, atol=1e-5)
    for g, e in zip(ghost, exact):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-5)


def test_related_tables_refuse_differential_privacy(frame):
    with pytest.raises(ConfigError, match="differential_privacy is not available for related tables"):
        lookalike.train(tables=[{"name": "people", "data": frame}], differential_privacy=True)


def test_bad_budget_is_refused_at_the_door(frame):
    with pytest.raises(ConfigError, match="differential_privacy.epsilon"):
        lookalike.train(frame, differential_privacy={"epsilon": 0})


def test_cli_dp_epsilon_and_info(frame, tmp_path):
    from typer.testing import CliRunner

    from lookalike.cli import app

    runner = CliRunner()
    csv = tmp_path / "data.csv"
    frame.to_csv(csv, index=False)
    out = tmp_path / "m.lookalike"
    r = runner.invoke(app, ["train", str(csv), "--out", str(out), "--dp-epsilon", "6", "--seed", "0", "-q"])
    assert r.exit_code == 0, r.output
    assert "differential privacy: ε" in r.output
    r = runner.invoke(app, ["info", str(out)])
    assert r.exit_code == 0, r.output
    about = json.loads(r.output)
    assert about["differential_privacy"].startswith("ε ")
    spent = about["training"]["differential_privacy"]["epsilon_spent"]
    assert 0 < spent <= 6
    r = runner.invoke(app, ["train", str(csv), "--out", str(out), "--dp-delta", "1e-6"])
    assert r.exit_code == 1 and "--dp-delta needs --dp-epsilon" in r.output


def test_rest_train_option(frame, tmp_path):
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from lookalike.server import create_app

    with TestClient(create_app(tmp_path), base_url="http://127.0.0.1") as c:
        d = c.post("/api/datasets", files={"file": ("p.csv", frame.to_csv(index=False).encode(), "text/csv")}).json()
        r = c.post(f"/api/datasets/{d['id']}/train",
                   json={"options": {"seed": 0, "differential_privacy": {"epsilon": 3, **FAST}}})
        assert r.status_code == 202, r.text
        for _ in range(600):
            job = c.get(f"/api/jobs/{r.json()['id']}").json()
            if job["status"] not in ("queued", "running"):
                break
            time.sleep(0.1)
        assert job["status"] == "succeeded", job
        model = c.get(f"/api/models/{job['result_id']}").json()
        assert 0 < model["training"]["differential_privacy"]["epsilon_spent"] <= 3
        assert model["config"]["differential_privacy"]["epsilon"] == 3
