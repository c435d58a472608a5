"""Generation controls on tiny frames: seeds, imputation, rebalancing, fairness, errors."""

import numpy as np
import pandas as pd
import pytest

import lookalike
from lookalike.errors import ConfigError


@pytest.fixture(scope="module")
def people():
    rng = np.random.default_rng(0)
    n = 1500
    sex = rng.choice(["f", "m"], n)
    age = rng.integers(20, 70, n)
    rich = rng.random(n) < np.where(sex == "m", 0.45, 0.15) + (age - 20) / 200
    return pd.DataFrame({"sex": sex, "age": age, "income": np.where(rich, "high", "low"),
                         "city": rng.choice(["ams", "rot", "utr"], n)})


@pytest.fixture(scope="module")
def model(people):
    return lookalike.train(people, max_epochs=8, seed=0, progress=False)


def test_seeded_rows_keep_their_values_and_pass_unknown_columns(model):
    seeds = pd.DataFrame({"sex": ["f", "m", None, "f"], "age": [25, 61, 40, None], "ticket": ["a", "b", "c", "d"]})
    out = model.sample(seed_data=seeds, seed=0)
    assert len(out) == 4
    assert out["sex"].iloc[[0, 1, 3]].tolist() == ["f", "m", "f"] and out["sex"].notna().all()
    assert out["age"].iloc[:3].tolist() == [25, 61, 40] and out["age"].notna().all()  # nulls are generated
    assert out["ticket"].tolist() == ["a", "b", "c", "d"]  # unknown to the model: kept as is


def test_seeded_generation_follows_the_condition(model, people):
    seeds = pd.DataFrame({"sex": ["m"] * 800 + ["f"] * 800})
    out = model.sample(seed_data=seeds, seed=1)
    share = out.groupby("sex")["income"].apply(lambda s: (s == "high").mean())
    real = people.groupby("sex")["income"].apply(lambda s: (s == "high").mean())
    assert share["m"] - share["f"] > 0.5 * (real["m"] - real["f"])


def test_rebalance_sets_the_share(model):
    out = model.sample(4000, seed=0, rebalance={"income": {"high": 0.5}})
    assert 0.46 < (out["income"] == "high").mean() < 0.54


def test_fairness_removes_the_dependence(model):
    out = model.sample(6000, seed=0, fairness={"target": "income", "sensitive": ["sex"]})
    share = out.groupby("sex")["income"].apply(lambda s: (s == "high").mean())
    assert abs(share["m"] - share["f"]) < 0.04


def test_impute_fills_gaps_and_keeps_known_values(model, people):
    gappy = people.head(300).copy()
    gappy.loc[::3, "age"] = np.nan
    out = model.impute(gappy, seed=0)
    assert out["age"].notna().all()
    known = gappy["age"].notna()
    assert (out.loc[known, "age"] == gappy.loc[known, "age"]).all()
    assert out.loc[~known, "age"].between(20, 69).all()


def test_same_seed_same_controlled_output(model):
    a = model.sample(300, seed=5, rebalance={"income": {"high": 0.3}}, temperature=0.9, top_p=0.95)
    b = model.sample(300, seed=5, rebalance={"income": {"high": 0.3}}, temperature=0.9, top_p=0.95)
    pd.testing.assert_frame_equal(a, b)


def test_top_p_drops_the_unlikely_tail(model):
    out = model.sample(2000, seed=0, top_p=0.5)
    full = model.sample(2000, seed=0)
    assert out["age"].nunique() < full["age"].nunique()


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(impute=["nope"]), "impute: unknown column(s) ['nope']"),
        (dict(rebalance={"income": {"huge": 0.5}}), "has no category ['huge']"),
        (dict(rebalance={"income": {"high": 0.7, "low": 0.6}}), "sum to 1.300"),
        (dict(rebalance={"age": {"30": 0.5}}), "column 'age' is numeric"),
        (dict(fairness={"target": "income"}), "fairness: expected"),
        (dict(seed_data=pd.DataFrame({"age": ["old", "young"]})), "seed: column 'age' is numeric"),
        (dict(seed_data=pd.DataFrame({"zzz": [1]})), "none of its columns"),
    ],
)
def test_bad_controls_name_the_problem(model, kwargs, message):
    with pytest.raises(ConfigError) as e:
        model.sample(10, **kwargs)
    assert message in str(e.value)


def test_context_columns_condition_the_rest():
    rng = np.random.default_rng(0)
    parent = rng.choice(["a", "b"], 2000)
    x = np.where(parent == "a", rng.normal(0, 1, 2000), rng.normal(5, 1, 2000)).round(2)
    g = lookalike.train(pd.DataFrame({"parent": parent, "x": x}), context_columns=["parent"], max_epochs=6,
                        seed=0, progress=False)
    out = g.sample(seed_data=pd.DataFrame({"parent": ["a"] * 300 + ["b"] * 300}), seed=0)
    means = out.groupby("parent")["x"].mean()
    assert abs(means["a"]) < 0.5 and abs(means["b"] - 5) < 0.5
