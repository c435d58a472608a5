"""The quality bars of the flat engine and its controls, on the shared datasets.

Slow-ish (a few minutes on 2 cores): each model is trained once per session with a
fixed seed and no time limit, so the figures are reproducible on one machine.
"""

import numpy as np
import pandas as pd
import pytest

import lookalike

from conftest import shared_file

pytestmark = pytest.mark.slow  # deselect with -m "not slow" for a quick loop


def _quiet_report(synthetic, train, holdout=None):
    return lookalike.report(synthetic, train, holdout=holdout, out=None, seed=0)


@pytest.fixture(scope="session")
def adult():
    train = pd.read_csv(shared_file("adult", "train.csv.gz"))
    holdout = pd.read_csv(shared_file("adult", "holdout.csv.gz"))
    train.loc[[10, 20, 30], "native-country"] = "Atlantis"  # a category held by 3 rows
    return train, holdout


@pytest.fixture(scope="session")
def adult_model(adult):
    train, holdout = adult
    return lookalike.train(train, holdout=holdout, seed=0, progress=False)


@pytest.fixture(scope="session")
def adult_sample(adult_model, adult):
    return adult_model.sample(len(adult[0]), seed=0)


@pytest.fixture(scope="session")
def adult_metrics(adult, adult_sample):
    """The QA report of the defaults' sample (computed once: two tests read it)."""
    train, holdout = adult
    return _quiet_report(adult_sample, train, holdout)


def test_adult_defaults_meet_the_flat_engine_bar(adult, adult_sample, adult_metrics):
    train, holdout = adult
    m = adult_metrics
    assert m.accuracy.overall >= 0.979 and m.accuracy.trivariate >= 0.951
    assert m.discriminator.auc <= 0.60
    assert m.privacy.dcr_share <= 0.52
    assert m.privacy.identical_share <= max(m.privacy.holdout_identical_share, 0.002)
    edu = dict(zip(train["education"], train["education-num"]))
    assert (adult_sample["education"].map(edu) == adult_sample["education-num"]).mean() >= 0.995


def test_rare_category_and_extreme_values_never_appear(adult_model, adult):
    out = adult_model.sample(100_000, seed=3)
    assert "Atlantis" not in set(out["native-country"])
    assert out["capital-gain"].max() < adult[0]["capital-gain"].max()


def test_rebalancing_income(adult_model, adult):
    out = adult_model.sample(24_421, seed=1, rebalance={"income": {">50K": 0.5}})
    assert 0.48 <= (out["income"] == ">50K").mean() <= 0.52
    real_hi = adult[0][adult[0]["income"] == ">50K"].drop(columns="income")
    syn_hi = out[out["income"] == ">50K"].drop(columns="income")
    assert _quiet_report(syn_hi, real_hi).accuracy.univariate >= 0.95


def test_fairness_gives_both_sexes_the_same_income_share(adult_model, adult):
    """Statistical parity for income across sex: |P(>50K | Male) - P(>50K | Female)| <= 0.02
    in the synthetic data (0.20 in the real data), the other columns as accurate as ever."""
    train = adult[0]
    real = (train["income"] == ">50K").groupby(train["sex"]).mean()
    assert real["Male"] - real["Female"] > 0.15  # there is a dependence to remove
    out = adult_model.sample(len(train), seed=0, fairness={"target": "income", "sensitive": ["sex"]})
    rich = (out["income"] == ">50K").groupby(out["sex"]).mean()
    assert abs(rich["Male"] - rich["Female"]) <= 0.02, rich.to_dict()
    others = _quiet_report(out.drop(columns="income"), train.drop(columns="income"))
    assert others.accuracy.overall >= 0.95


def test_seeding_age_and_education(adult_model, adult):
    train = adult[0]
    seeds = train.sample(1000, random_state=0)[["age", "education"]].reset_index(drop=True)
    out = adult_model.sample(seed_data=seeds, seed=2)
    assert (out["age"].to_numpy() == seeds["age"].to_numpy()).all()
    assert (out["education"].to_numpy() == seeds["education"].to_numpy()).all()
    edu = dict(zip(train["education"], train["education-num"]))
    assert (out["education"].map(edu) == out["education-num"]).mean() >= 0.995


def test_smaller_training_size_is_easier_to_spot(adult, adult_metrics):
    train, holdout = adult
    small = lookalike.train(train, holdout=holdout, max_training_rows=1000, seed=0, progress=False)
    auc_small = _quiet_report(small.sample(len(train), seed=0), train, holdout).discriminator.auc
    auc_full = adult_metrics.discriminator.auc
    assert auc_small > auc_full + 0.05


@pytest.fixture(scope="session")
def census():
    gappy = pd.read_csv(shared_file("census", "census-with-missings.csv.gz"))
    truth = pd.read_csv(shared_file("census", "census-ground-truth.csv.gz"))
    # 20,000 of the 48,842 rows are enough to learn age from the other columns (measured:
    # mean off by 0.2 years, accuracy 0.99), at less than half the training time
    g = lookalike.train(gappy, seed=0, progress=False, max_training_rows=20_000)
    return gappy, truth, g


def _age_accuracy(age: pd.Series, truth: pd.Series) -> float:
    edges = np.unique(np.quantile(truth, np.linspace(0, 1, 11)))

    def freq(x):
        idx = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        return np.bincount(idx, minlength=len(edges) - 1) / len(x)

    return 1 - 0.5 * np.abs(freq(age.to_numpy()) - freq(truth.to_numpy())).sum()


def test_smart_imputation_recovers_the_true_age_distribution(census):
    gappy, truth, g = census
    assert abs(gappy["age"].mean() - truth["age"].mean()) > 2  # the observed part is biased
    out = g.sample(len(gappy), seed=0, impute=["age"])
    assert out["age"].notna().all()
    assert abs(out["age"].mean() - truth["age"].mean()) <= 0.5
    assert _age_accuracy(out["age"], truth["age"]) >= 0.97
    assert _age_accuracy(gappy["age"].dropna(), truth["age"]) < 0.95  # observed-only is worse


def test_impute_on_the_real_table(census):
    gappy, truth, g = census
    filled = g.impute(gappy, columns=["age"], seed=0)
    assert filled["age"].notna().all()
    known = gappy["age"].notna()
    assert (filled.loc[known, "age"] == gappy.loc[known, "age"]).all()
    assert abs(filled["age"].mean() - truth["age"].mean()) <= 0.5
    assert _age_accuracy(filled["age"], truth["age"]) >= 0.97


def test_small_table_titanic_keeps_fidelity_without_copying():
    """654 training rows: exact values where many rows share them, no fake point masses,
    no more copies of training rows than a fresh sample of real people would have."""
    df = pd.read_csv(shared_file("titanic", "titanic.csv"))
    idx = np.random.default_rng(42).permutation(len(df))
    train, holdout = df.iloc[idx[: len(df) // 2]], df.iloc[idx[len(df) // 2 :]]
    g = lookalike.train(train, holdout=holdout, seed=0, progress=False)
    syn = g.sample(len(train), seed=0)
    m = _quiet_report(syn, train, holdout)
    assert m.accuracy.overall >= m.accuracy.reference.overall - 0.01
    assert m.discriminator.auc <= 0.60
    assert m.privacy.identical_share <= m.privacy.holdout_identical_share + 0.02
    top_fare = syn["fare"].value_counts(normalize=True)
    real_fare = train["fare"].value_counts(normalize=True)
    assert top_fare.index[0] == real_fare.index[0]  # the most common fare stays the most common
    assert (top_fare.head(5) < real_fare.max() + 0.05).all()  # no value piles up beyond the real mode
