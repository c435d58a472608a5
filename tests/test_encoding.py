import numpy as np
import pandas as pd

from lookalike.config import TrainConfig
from lookalike.encoding import TableEncoder
from lookalike.encoding.categorical import RARE_LABEL
from lookalike.schema import infer_schema


def roundtrip(df, **cfg):
    config = TrainConfig(**cfg)
    enc = TableEncoder.fit(df, infer_schema(df, config.types), np.random.default_rng(0), config)
    tokens = enc.encode(df)
    assert tokens.shape == (len(df), len(enc.cardinalities))
    assert (tokens >= 0).all() and (tokens < np.array(enc.cardinalities)).all()
    return enc, enc.decode(tokens, np.random.default_rng(0))


def test_categorical_and_discrete_values_come_back_exactly(mixed_frame):
    _, back = roundtrip(mixed_frame, value_protection=False)
    for col in ("level", "level_code", "member", "note", "country", "age"):
        pd.testing.assert_series_equal(back[col], mixed_frame[col], check_names=False, check_dtype=True)
    assert back["joined"].dtype == mixed_frame["joined"].dtype


def test_continuous_values_keep_bins_precision_and_nulls():
    rng = np.random.default_rng(1)
    x = np.round(rng.normal(50, 10, 2000), 2)
    x[rng.random(2000) < 0.1] = np.nan
    df = pd.DataFrame({"x": x})
    enc, back = roundtrip(df, value_protection=False)
    assert len(enc.cardinalities) == 2  # bin + position
    assert back["x"].isna().equals(df["x"].isna())
    assert np.allclose(back["x"], np.round(back["x"], 2), equal_nan=True)
    err = np.abs(back["x"] - df["x"])
    assert np.nanpercentile(err, 99) < 0.03 * np.nanstd(x)  # within a fine step of the original (90 bins of 20 rows)
    assert np.nanmax(err) < 0.1 * np.nanstd(x)  # the wide tail bins too


def test_a_small_column_on_a_decimal_grid_comes_back_exactly():
    # like iris's sepal widths (75 rows, one decimal): the values held by fewer than five
    # rows (30 here) make one bin, 2.2 to 4.2, of 20 even cells 0.1 wide. Edges such as
    # 2.2 + 7 * 0.1 = 2.9000000000000004 once pushed 2.9 into 2.8's cell (iris: 15 of 75 moved).
    counts = {2.2: 1, 2.3: 2, 2.4: 1, 2.5: 8, 2.6: 4, 2.7: 8, 2.8: 8, 2.9: 4, 3.0: 12, 3.1: 4, 3.2: 8,
              3.3: 4, 3.4: 8, 3.5: 2, 3.6: 2, 3.7: 1, 3.8: 3, 3.9: 1, 4.2: 1}
    df = pd.DataFrame({"x": np.repeat(list(counts), list(counts.values()))})
    _, back = roundtrip(df)
    got = back["x"].round(6).value_counts()
    # 21 grid values in 20 cells: the last cell holds 4.1 and 4.2, every other value its own
    assert {v: int(got.get(v, 0)) for v in counts if v < 4.05} == {v: n for v, n in counts.items() if v < 4.05}
    assert got.get(4.1, 0) + got.get(4.2, 0) == 1


def test_keys_are_new_unique_values(mixed_frame):
    _, back = roundtrip(mixed_frame)
    assert back["id"].is_unique
    assert not set(back["id"]) & set(mixed_frame["id"])


def test_rare_categories_never_come_back():
    df = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 50 + ["rare"] * 3})
    _, back = roundtrip(df)
    assert "rare" not in set(back["c"]) and RARE_LABEL in set(back["c"])


def test_extreme_values_are_clipped():
    x = np.concatenate([np.arange(1000), [10_000, 20_000, 50_000]]).astype(float)
    _, back = roundtrip(pd.DataFrame({"x": x}))
    assert back["x"].max() < 1000 and back["x"].min() > 0


def test_iso_date_strings_keep_their_format():
    df = pd.DataFrame({"d": ["2021-01-05", "2021-03-01", None, "2022-12-31"] * 30})
    _, back = roundtrip(df, value_protection=False)
    assert back["d"].dropna().str.match(r"^\d{4}-\d{2}-\d{2}$").all()
    assert back["d"].isna().sum() == 30


def test_all_null_column_typed_numeric_gives_nulls():
    df = pd.DataFrame({"x": [np.nan] * 20, "c": ["a", "b"] * 10})
    _, back = roundtrip(df, types={"x": "numeric"})
    assert back["x"].isna().all() and len(back) == 20


def test_token_positions_follow_the_values():
    """A number's tokens have their place in its order (the network starts them on a line):
    bins by their middle, a point mass among the bins by its value, cells inside a bin in
    order; null, the rounding step and categories have none."""
    rng = np.random.default_rng(2)
    x = np.round(rng.normal(50, 10, 3000), 2)
    x[:600] = 40.0  # a point mass inside the range
    x[rng.random(3000) < 0.05] = np.nan
    df = pd.DataFrame({"x": x, "c": rng.choice(list("abc"), 3000)})
    enc, _ = roundtrip(df, value_protection=False)
    pos = enc.token_positions()
    first, fine = pos[enc.subs_of("x")[0]], pos[enc.subs_of("x")[-1]]
    assert pos[enc.subs_of("c")[0]] is None
    assert np.isnan(first[0])  # null
    values = pd.Series([20.0, 30.0, 39.0, 40.0, 41.0, 60.0, 80.0])
    tokens = enc.encoder("x").encode(values)[:, 0]
    assert tokens[3] == 1 + enc.encoder("x").points_.index(40.0)  # the point mass's own token
    assert np.all(np.diff(first[tokens]) > 0)  # in the values' order, the point mass among its bins
    assert np.all(np.diff(fine) > 0) and 0 < fine[0] and fine[-1] < 1
