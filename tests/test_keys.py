"""Keys: regenerated in the input's format, unique, and never equal to a real key."""

import json
import re
import uuid
import zipfile

import numpy as np
import pandas as pd
import pytest

import lookalike
from lookalike.encoding.keys import KeyEncoder


def people(ids) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = len(ids)
    return pd.DataFrame({"id": ids, "age": rng.integers(18, 90, n), "city": rng.choice(["a", "b", "c"], n)})


def fitted(keys, dtype=None) -> KeyEncoder:
    s = pd.Series(keys, dtype=dtype)
    return KeyEncoder("id", str(s.dtype)).fit(s, np.random.default_rng(0), protect=False)


def batches(enc: KeyEncoder, sizes: list[int]) -> pd.Series:
    """Keys generated in consecutive batches, as sample() does."""
    out, start = [], 0
    for m in sizes:
        out.append(enc.decode(np.zeros((m, 0), dtype=np.int64), np.random.default_rng(start), start=start))
        start += m
    return pd.concat(out, ignore_index=True)


def test_ids_numbered_1_to_n_never_come_back(tmp_path, monkeypatch):
    import lookalike.generator as gen

    real = people(np.arange(1, 301))
    g = lookalike.train(real, max_epochs=1, seed=0, progress=False)
    assert g.encoder_.encoder("id").kind == "key"
    monkeypatch.setattr(gen, "GENERATION_BATCH", 128)  # keys stay unique across batches
    syn = g.sample(1000, seed=1)
    assert pd.api.types.is_integer_dtype(syn["id"]) and syn["id"].is_unique
    assert not syn["id"].isin(real["id"]).any()
    streamed = pd.read_csv(g.sample(1000, seed=1, out=tmp_path / "s.csv"))
    assert streamed["id"].tolist() == syn["id"].tolist()  # same keys streamed or in memory
    pd.testing.assert_series_equal(g.sample(50, seed=2)["id"], g.sample(50, seed=2)["id"])


def test_string_ids_keep_their_pattern_and_the_file_holds_none(tmp_path):
    real = people([f"C{i:05d}" for i in range(1, 501)])
    g = lookalike.train(real, max_epochs=1, seed=0, progress=False)
    syn = g.sample(800, seed=1)
    assert syn["id"].str.fullmatch(r"C\d{5}").all() and syn["id"].is_unique
    assert not syn["id"].isin(real["id"]).any()
    path = g.save(tmp_path / "m.lookalike")
    with zipfile.ZipFile(path) as z:
        text = z.read("encoders.json").decode()
    assert not any(k in text for k in real["id"])  # no real key in the model file
    enc = next(e for e in json.loads(text) if e["name"] == "id")
    assert enc["style_"] == "pattern"
    pd.testing.assert_series_equal(lookalike.load(path).sample(800, seed=1)["id"], syn["id"])


@pytest.mark.parametrize("keys, pattern", [
    ([str(i) for i in range(1, 501)], r"[1-9]\d{2,3}"),  # integers held as text: counted on above the largest
    ([f"{i:04d}" for i in range(0, 10_000, 3)], r"[1-9]\d{4}"),  # zero-padded and full: one digit more
    ([f"X2023-{i:04d}" for i in range(1, 400)], r"X2023-\d{4}"),  # constant parts stay as they are
    ([f"{n}{i % 3 + 1:02d}" for i, n in enumerate(sorted({"".join(np.random.default_rng(i).choice(
        list("abcdefghijklmnopqrstuvwxyz"), 7)) for i in range(600)}))], r"[a-z]{7}\d{2}"),
    ([f"{x:032x}" for x in np.random.default_rng(1).integers(0, 2**62, 400)], r"[0-9a-f]{32}"),
])
def test_string_shapes_are_kept_and_never_reuse_a_real_key(keys, pattern):
    enc = fitted(keys)
    out = batches(enc, [700, 700, 600])
    assert out.is_unique and not out.isin(keys).any()
    assert out.str.fullmatch(pattern).all(), out.head().tolist()
    text = json.dumps(enc.state())
    assert not any(f'"{k}"' in text for k in keys)


def test_uuid_keys_are_new_uuids():
    keys = [str(uuid.UUID(int=int(x))) for x in np.random.default_rng(0).integers(0, 2**62, 200)]
    enc = fitted(keys)
    out = batches(enc, [300, 300])
    assert out.is_unique and not out.isin(keys).any()
    assert all(uuid.UUID(k).version == 4 for k in out)


def test_edge_cases_still_give_unique_new_keys():
    for keys, dtype in [([], "object"), (["only"], None), (["a", "b", "c"], None),
                        ([1.0, 2.0, None, 5.0], "float64"), ([1, None, 3], "Int64"),
                        ([np.iinfo(np.int64).max - 3, np.iinfo(np.int64).max], "int64"),
                        (["john.smith@example.com", "ann@x.org"], None)]:
        enc = fitted(keys, dtype)
        out = batches(enc, [30, 30])
        assert out.is_unique and out.notna().all() and not out.isin([k for k in keys if k is not None]).any(), keys
    emails = fitted(["john.smith@example.com", "ann@x.org"])  # no shared shape: a plainly synthetic key, longer
    assert re.fullmatch(r"lk-\d{20,}", emails.decode(np.zeros((1, 0)), None)[0])


def test_new_keys_avoid_the_holdout_keys_too():
    real = people(np.arange(1, 201))
    g = lookalike.train(real, max_epochs=1, seed=0, progress=False, holdout_share=0.5)
    syn = g.sample(400, seed=1)
    assert syn["id"].is_unique and not syn["id"].isin(real["id"]).any()
    g = lookalike.train(real.iloc[:100], holdout=real.iloc[100:], max_epochs=1, seed=0, progress=False)
    assert not g.sample(400, seed=1)["id"].isin(real["id"]).any()


def test_old_model_files_still_generate_keys(caplog):
    old = KeyEncoder.from_state({"kind": "key", "name": "id", "dtype": "int64", "numeric_": True})
    with caplog.at_level("WARNING"):
        out = old.decode(np.zeros((5, 0)), None, start=10)
    assert out.tolist() == [11, 12, 13, 14, 15] and "train again" in caplog.text


def test_related_tables_keys_are_new_in_format_and_resolve():
    rng = np.random.default_rng(0)
    users = pd.DataFrame({"id": [f"U{i:04d}" for i in range(1, 151)], "segment": rng.choice(["x", "y"], 150)})
    owner = rng.choice(users["id"], 400)
    purchases = pd.DataFrame({"pid": [f"P-{i:05d}" for i in range(1, 401)], "users_id": owner,
                              "amt": np.round(rng.lognormal(3, 0.3, 400), 2),
                              "receipt_id": np.arange(1, 401)})  # a key of its own, not declared
    tables = [{"name": "users", "data": users, "primary_key": "id"},
              {"name": "purchases", "data": purchases, "primary_key": "pid",
               "foreign_keys": [{"column": "users_id", "references": "users", "context": True}]}]
    g = lookalike.train(tables=tables, max_epochs=1, seed=0, progress=False, model_size="small")
    syn = g.sample({"users": 300}, seed=1)
    u, p = syn["users"], syn["purchases"]
    assert u["id"].is_unique and p["pid"].is_unique
    assert not u["id"].isin(users["id"]).any() and not p["pid"].isin(purchases["pid"]).any()
    assert u["id"].str.fullmatch(r"U\d{4}").all() and p["pid"].str.fullmatch(r"P-\d{5,}").all()
    assert p["users_id"].isin(u["id"]).all()  # every foreign key resolves to a generated parent
    assert p["receipt_id"].is_unique and not p["receipt_id"].isin(purchases["receipt_id"]).any()
    layouts = json.dumps({n: lay.to_json() for n, lay in g.layouts_.items()})
    assert not any(f'"{k}"' in layouts for k in list(users["id"]) + list(purchases["pid"]))
