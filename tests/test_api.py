"""The Python API: train -> sample -> save -> load, as a user drives it."""

import numpy as np
import pandas as pd
import pytest

import lookalike
from lookalike.errors import ConfigError, InputError, ModelFileError


def test_sample_has_the_input_columns_and_dtypes(tiny_generator, mixed_frame):
    df = tiny_generator.sample(500, seed=0)
    assert list(df.columns) == list(mixed_frame.columns)
    assert len(df) == 500  # more rows than were trained on
    for col in mixed_frame.columns:
        if col != "note":
            assert df[col].dtype == mixed_frame[col].dtype, col
    assert df["id"].is_unique
    assert (df["country"] == "NL").all()
    assert df["age"].between(18, 89).all()
    assert 0.1 < df["note"].isna().mean() < 0.4  # nulls keep roughly their 25% share


def test_same_seed_same_rows_and_different_seed_differs(tiny_generator):
    a = tiny_generator.sample(200, seed=7)
    b = tiny_generator.sample(200, seed=7)
    c = tiny_generator.sample(200, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_training_is_reproducible_with_a_seed(mixed_frame):
    kw = dict(max_epochs=1, seed=3, progress=False)
    a = lookalike.train(mixed_frame, **kw).sample(50, seed=0)
    b = lookalike.train(mixed_frame, **kw).sample(50, seed=0)
    pd.testing.assert_frame_equal(a, b)


def test_save_load_roundtrip_gives_identical_samples(tiny_generator, tmp_path):
    path = tiny_generator.save(tmp_path / "m.lookalike")
    g2 = lookalike.load(path)
    pd.testing.assert_frame_equal(tiny_generator.sample(100, seed=1), g2.sample(100, seed=1))
    # the model file holds no training rows; QA rows live beside it
    import zipfile

    import json

    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "encoders.json", "meta.json", "schema.json", "weights.safetensors"]
        encoders = {e["name"]: e for e in json.loads(z.read("encoders.json"))}
    assert set(encoders["id"]) == {"kind", "name", "dtype", "numeric_", "style_", "start_", "step_"}  # keys: a start, no real value
    assert (tmp_path / "m.lookalike.qa-holdout.parquet").exists()


def test_streaming_to_file_in_batches(tiny_generator, tmp_path, monkeypatch):
    import lookalike.generator as gen

    monkeypatch.setattr(gen, "GENERATION_BATCH", 64)
    for suffix in (".csv", ".parquet"):
        out = tiny_generator.sample(300, seed=2, out=tmp_path / f"s{suffix}")
        back = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
        assert len(back) == 300 and back["id"].is_unique


def test_temperature_changes_diversity(tiny_generator):
    cold = tiny_generator.sample(400, seed=0, temperature=0.3)["level"].value_counts(normalize=True)
    hot = tiny_generator.sample(400, seed=0, temperature=1.0)["level"].value_counts(normalize=True)
    assert cold.iloc[0] > hot.iloc[0]  # the modal category dominates more when cold


def test_bad_options_and_inputs_are_named(mixed_frame, tmp_path):
    with pytest.raises(ConfigError, match="unknown option 'max_epoch'"):
        lookalike.train(mixed_frame, max_epoch=3)
    with pytest.raises(ConfigError, match="max_epochs"):
        lookalike.train(mixed_frame, max_epochs=0)
    with pytest.raises(InputError, match="not found"):
        lookalike.train(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="no rows"):
        lookalike.train(mixed_frame.iloc[:0])
    with pytest.raises(InputError, match="duplicate column"):
        lookalike.train(pd.concat([mixed_frame[["age"]], mixed_frame[["age"]]], axis=1))


def test_one_row_and_all_null_columns_still_train(tmp_path):
    one = pd.DataFrame({"a": [1], "b": ["x"], "c": [None]})
    g = lookalike.train(one, max_epochs=1, progress=False)
    out = g.sample(5, seed=0)
    assert len(out) == 5 and out["c"].isna().all() and (out["b"] == "x").all()


def test_bad_sample_arguments(tiny_generator):
    for n in (0, -5, 2.5):
        with pytest.raises(ConfigError, match="positive integer"):
            tiny_generator.sample(n)
    with pytest.raises(ConfigError, match="temperature"):
        tiny_generator.sample(5, temperature=0)


def test_corrupt_and_foreign_model_files_are_refused(tmp_path, tiny_generator):
    foreign = tmp_path / "x.lookalike"
    foreign.write_text("hello")
    with pytest.raises(ModelFileError, match="not a lookalike model file"):
        lookalike.load(foreign)
    good = tiny_generator.save(tmp_path / "g.lookalike")
    data = bytearray(good.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 200] = b"\0" * 200
    bad = tmp_path / "bad.lookalike"
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError):
        lookalike.load(bad)


def test_newer_model_format_is_refused(tmp_path, tiny_generator):
    import json
    import zipfile

    good = tiny_generator.save(tmp_path / "g.lookalike")
    newer = tmp_path / "newer.lookalike"
    with zipfile.ZipFile(good) as zin, zipfile.ZipFile(newer, "w") as zout:
        for name in zin.namelist():
            data = zin.read(name)
            if name == "meta.json":
                meta = json.loads(data)
                meta["format_version"] = 99
                data = json.dumps(meta).encode()
            zout.writestr(name, data)
    with pytest.raises(ModelFileError, match="upgrade lookalike"):
        lookalike.load(newer)


def test_deterministic_relation_survives():
    rng = np.random.default_rng(0)
    edu = rng.choice(["hs", "ba", "ma", "phd"], 600, p=[0.4, 0.3, 0.2, 0.1])
    num = pd.Series(edu).map({"hs": 9, "ba": 13, "ma": 14, "phd": 16})
    df = pd.DataFrame({"edu": edu, "edu_num": num, "x": rng.normal(size=600)})
    g = lookalike.train(df, max_epochs=15, seed=0, progress=False)
    s = g.sample(1000, seed=0)
    assert (s["edu"].map({"hs": 9, "ba": 13, "ma": 14, "phd": 16}) == s["edu_num"]).mean() > 0.97


def test_excluded_columns_are_dropped_and_the_report_still_works(mixed_frame, tmp_path):
    g = lookalike.train(mixed_frame, types={"note": "exclude"}, max_epochs=1, seed=0, progress=False)
    assert "note" not in g.sample(20, seed=0).columns
    m = g.report(out=None, n=200)
    assert [c.column for c in m.accuracy.columns] == [c for c in mixed_frame.columns if c != "note"]
    assert m.rows["synthetic"] == 200
    assert {c.column: c.univariate for c in m.accuracy.columns}["country"] == 1.0  # a constant stays constant


def test_a_constant_context_column_trains(mixed_frame):
    """A context column with nothing to model (a constant, here the last column) is fine."""
    g = lookalike.train(mixed_frame, context_columns=["country"], max_epochs=1, seed=0, progress=False)
    assert (g.sample(20, seed=0)["country"] == "NL").all()
