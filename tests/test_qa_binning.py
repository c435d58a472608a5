"""Binning and accuracy definitions, on frames small enough to check by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lookalike.qa.accuracy import accuracy, choose_triples
from lookalike.qa.binning import NULL, OTHER, encode, fit_bins
from lookalike.qa.columns import infer_columns


def _bins(train: pd.DataFrame):
    return fit_bins(train, infer_columns(train))


def test_numeric_quantile_bins_and_other_and_null():
    train = pd.DataFrame({"x": np.arange(100, dtype=float)})
    (b,) = _bins(train)
    assert b.labels[-2:] == [OTHER, NULL] and b.size == 12  # 10 quantile bins
    codes = encode(pd.DataFrame({"x": [0.0, 99.0, -1.0, 1000.0, np.nan, np.inf]}), [b])[:, 0]
    assert codes[0] == 0 and codes[1] == 9  # the training range is closed at both ends
    assert [b.labels[c] for c in codes[2:]] == [OTHER, OTHER, NULL, OTHER]


def test_numbers_with_few_values_are_kept_as_values():
    (b,) = _bins(pd.DataFrame({"kids": [0, 1, 2, 3, 3, 2, 1, 0, 0, 0]}))
    assert b.labels == ["0", "1", "2", "3", OTHER, NULL]
    codes = encode(pd.DataFrame({"kids": [2.0, 7.0]}), [b])[:, 0]
    assert [b.labels[c] for c in codes] == ["2", OTHER]


def test_categoricals_keep_the_ten_most_frequent():
    values = [f"c{i}" for i in range(12) for _ in range(20 - i)]
    (b,) = _bins(pd.DataFrame({"c": pd.Series(values, dtype="str")}))
    assert b.labels[:10] == [f"c{i}" for i in range(10)]
    codes = encode(pd.DataFrame({"c": ["c11", None, "c0"]}), [b])[:, 0]
    assert [b.labels[c] for c in codes] == [OTHER, NULL, "c0"]


def test_accuracy_is_one_minus_total_variation():
    train = pd.DataFrame({"a": ["x"] * 50 + ["y"] * 50, "b": ["u"] * 100})
    synthetic = pd.DataFrame({"a": ["x"] * 80 + ["y"] * 20, "b": ["u"] * 100})
    bins = _bins(train)
    result = accuracy(encode(train, bins), encode(synthetic, bins), [b.size for b in bins], [])
    assert result.univariate.tolist() == pytest.approx([0.7, 1.0])  # TVD of a is 0.3
    assert result.bivariate.tolist() == pytest.approx([0.7])
    assert result.overall == pytest.approx((0.85 + 0.7) / 2)


def test_triples_are_all_or_a_seeded_sample():
    assert len(choose_triples(5, np.random.default_rng(0))) == 10
    many = choose_triples(30, np.random.default_rng(0))
    assert len(many) == 1000 and len(set(many)) == 1000
    assert many == choose_triples(30, np.random.default_rng(0))
