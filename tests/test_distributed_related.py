"""Scaling out related tables: shards of whole subjects drawn here, by local worker
processes and by Ray give the same tables, with keys unique across shards, no dangling
reference and every subject's dates in order; the tables' models train as Ray tasks."""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pandas as pd
import pytest

import lookalike
from lookalike.errors import ConfigError, InputError

TABLES = ["users", "stores", "purchases"]


def make_shop(n_users: int = 150, seed: int = 0) -> list[dict]:
    """Users, a lookup table of stores, and purchases (keys like P00042, dates in order
    after the user joined, each at a store)."""
    rng = np.random.default_rng(seed)
    users = pd.DataFrame({"id": np.arange(1, n_users + 1), "segment": rng.choice(["a", "b"], n_users),
                          "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 300, n_users), "D")})
    stores = pd.DataFrame({"code": [f"S{i:03d}" for i in range(12)], "city": rng.choice(["x", "y"], 12)})
    rows = []
    for uid, day in zip(users.id, users.joined):
        for _ in range(rng.poisson(3)):
            day += pd.Timedelta(days=int(rng.integers(1, 30)))
            rows.append((uid, day.strftime("%Y-%m-%d"), round(float(rng.lognormal(3, 0.4)), 2),
                         f"S{rng.integers(12):03d}"))
    purchases = pd.DataFrame(rows, columns=["users_id", "date", "amt", "store"])
    purchases.insert(0, "pid", [f"P{i:05d}" for i in range(len(purchases))])
    return [{"name": "users", "data": users, "primary_key": "id"},
            {"name": "stores", "data": stores, "primary_key": "code"},
            {"name": "purchases", "data": purchases, "primary_key": "pid", "order_by": "date",
             "foreign_keys": [{"column": "users_id", "references": "users", "context": True},
                              {"column": "store", "references": "stores"}]}]


@pytest.fixture(scope="module")
def shop():
    return lookalike.train(tables=make_shop(), max_epochs=1, seed=1, progress=False, model_size="small")


@pytest.fixture(scope="module")
def local_run(shop, tmp_path_factory):
    """240 users in shards of 120, drawn in this process: the reference layout."""
    return shop.sample({"users": 240}, seed=5, out=tmp_path_factory.mktemp("local") / "synth", shard_rows=120)


def part_bytes(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))}


def read(folder) -> dict[str, pd.DataFrame]:
    return {t: pd.read_parquet(folder / t) for t in TABLES}


def test_shards_of_whole_subjects_make_one_dataset_per_table(local_run, shop):
    assert sorted(p.name for p in local_run.iterdir()) == sorted(TABLES)
    assert sorted(p.name for p in (local_run / "purchases").iterdir()) == [f"part-0000{i}.parquet" for i in range(2)]
    t = read(local_run)
    assert len(t["users"]) == 240 and len(t["stores"]) == 12  # every subject table cut, none lost
    for name, key in (("users", "id"), ("stores", "code"), ("purchases", "pid")):
        assert t[name][key].is_unique, name  # unique across shards
    assert t["users"]["id"].dtype == "int64" and t["users"]["id"].min() > 150  # never a real key
    assert t["purchases"]["pid"].map(lambda k: bool(re.fullmatch(r"P\d{5,}", k))).all()  # the model's format
    assert t["purchases"]["users_id"].isin(t["users"]["id"]).all()  # no dangling reference
    assert t["purchases"]["store"].dropna().isin(t["stores"]["code"]).all()
    dates = t["purchases"].assign(d=pd.to_datetime(t["purchases"]["date"]))
    assert (dates.groupby("users_id")["d"].diff().dropna() >= pd.Timedelta(0)).all()  # every history in order
    assert len(t["purchases"]) > 240  # users have histories (about 3 purchases each)


def test_workers_give_the_same_tables_as_one_process(local_run, shop, tmp_path):
    out = shop.sample({"users": 240}, seed=5, out=tmp_path / "synth", shard_rows=120, workers=2)
    assert part_bytes(out) == part_bytes(local_run)


def test_ray_draws_the_same_tables_and_trains_the_tables_in_parallel(local_run, shop, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'lookalike[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        out = shop.sample({"users": 240}, seed=5, out=tmp_path / "synth/", shard_rows=120, ray=True)
        assert part_bytes(out) == part_bytes(local_run)
        g = lookalike.train(tables=make_shop(), max_epochs=1, seed=1, progress=False, model_size="small", ray=True)
    finally:
        ray.shutdown()
    # the same model file, tables trained elsewhere: same tables, layouts and options
    a, b = shop.save(tmp_path / "seq.lookalike"), g.save(tmp_path / "ray.lookalike")
    with zipfile.ZipFile(a) as za, zipfile.ZipFile(b) as zb:
        assert za.namelist() == zb.namelist()
        ma, mb = json.loads(za.read("meta.json")), json.loads(zb.read("meta.json"))
    assert ma["layouts"] == mb["layouts"] and ma["config"] == mb["config"]
    assert mb["training"]["tables"].keys() == ma["training"]["tables"].keys()
    assert all(t["epochs"] == 1 for t in mb["training"]["tables"].values())
    sample = lookalike.load(b).sample({"users": 50}, seed=1)
    assert sample["purchases"]["users_id"].isin(sample["users"]["id"]).all()


def test_a_failed_run_leaves_nothing_and_bad_targets_are_refused(shop, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="notes.txt"):
        shop.sample({"users": 50}, out=busy, shard_rows=20)
    with pytest.raises(ConfigError, match="folder"):
        shop.sample({"users": 50}, out=tmp_path / "synth.sqlite", workers=2)
    with pytest.raises(ConfigError, match="folder"):
        shop.sample({"users": 50}, workers=2)
    with pytest.raises(ConfigError, match="continue_from"):
        shop.sample(continue_from={}, out=tmp_path / "c", workers=2)
    with pytest.raises(ConfigError, match="purchases"):  # a child's size follows from the model
        shop.sample({"purchases": 50}, out=tmp_path / "p", shard_rows=20)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy"]
    # a previous run's table folders are replaced whole
    out = tmp_path / "synth"
    shop.sample({"users": 40}, seed=1, out=out, shard_rows=20)
    shop.sample({"users": 20}, seed=1, out=out, shard_rows=20)
    assert len(pd.read_parquet(out / "users")) == 20 and len(list((out / "users").iterdir())) == 1


def test_cli_generates_related_tables_with_workers_and_refuses_ray_workers_without_ray(shop, tmp_path):
    from typer.testing import CliRunner

    from lookalike.cli import app

    model = shop.save(tmp_path / "shop.lookalike")
    out = tmp_path / "synth"
    r = CliRunner().invoke(app, ["generate", str(model), "--size", "users=40", "--out", f"{out}/", "--shard-rows", "20",
                                 "--seed", "1", "-q"])
    assert r.exit_code == 0, r.output
    assert len(pd.read_parquet(out / "users")) == 40 and len(list((out / "users").iterdir())) == 2
    data = tmp_path / "users.csv"
    make_shop()[0]["data"].to_csv(data, index=False)
    r = CliRunner().invoke(app, ["train", str(data), "--out", str(tmp_path / "u.lookalike"), "--ray-workers", "2"])
    assert r.exit_code == 1 and "ray_workers (--ray-workers) needs ray=True (--ray)" in r.output


def test_shards_take_every_subject_table_and_key_numbers_never_meet():
    from lookalike.relational.keys import KeyBlocks
    from lookalike.relational.shards import plan_subjects

    shards, block = plan_subjects({"users": 1000, "stores": 3}, shard_rows=100)
    assert len(shards) == 3  # no more shards than the smallest subject table has rows: each gets a store
    assert [s.sizes["stores"] for s in shards] == [1, 1, 1] and sum(s.sizes["users"] for s in shards) == 1000
    assert block == max(s.sizes["users"] for s in shards)
    shards, _ = plan_subjects({"users": 250}, shard_rows=100)
    assert [s.sizes["users"] for s in shards] == [83, 84, 83]
    # events: any number per shard, numbers unique across shards; one shard numbers 0, 1, 2, ...
    numbers = np.concatenate([KeyBlocks(i, 3, 10).numbers(n) for i, n in enumerate([35, 0, 7])])
    assert len(np.unique(numbers)) == 42 and KeyBlocks(0, 3, 10).numbers(4).tolist() == [0, 1, 2, 3]
    assert KeyBlocks().numbers(5).tolist() == list(range(5))
