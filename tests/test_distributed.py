"""Scaling out: shards drawn here, by local worker processes and by Ray give the same rows,
the folder reads as one dataset, and a failed run leaves nothing behind."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lookalike.errors import ConfigError, InputError


def row_hashes(folder) -> np.ndarray:
    return pd.util.hash_pandas_object(pd.read_parquet(folder), index=False).to_numpy()


def part_bytes(folder) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture(scope="module")
def local_run(tiny_generator, tmp_path_factory):
    """2,500 rows in shards of 1,000, drawn in this process: the reference layout."""
    out = tmp_path_factory.mktemp("local") / "big"
    return tiny_generator.sample(2500, seed=5, out=out, shard_rows=1000)


def test_shards_drawn_here_make_one_dataset_with_unique_keys(local_run, tiny_generator):
    assert leftovers(local_run) == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    df = pd.read_parquet(local_run)
    assert len(df) == 2500 and list(df.columns) == tiny_generator.columns
    assert df["id"].is_unique  # keys go on across shards
    assert df["id"].dtype == "int64" and df["joined"].dtype.kind == "M"


def test_workers_give_the_same_bytes_as_one_process(local_run, tiny_generator, tmp_path):
    out = tiny_generator.sample(2500, seed=5, out=tmp_path / "big", shard_rows=1000, workers=2)
    assert part_bytes(out) == part_bytes(local_run)
    assert (row_hashes(out) == row_hashes(local_run)).all()


def test_the_rows_depend_on_the_seed_and_the_shard_size(local_run, tiny_generator, tmp_path):
    other_seed = tiny_generator.sample(2500, seed=6, out=tmp_path / "a", shard_rows=1000)
    other_layout = tiny_generator.sample(2500, seed=5, out=tmp_path / "b/", shard_rows=1250)
    assert len(leftovers(other_layout)) == 2 and len(pd.read_parquet(other_layout)) == 2500
    reference = row_hashes(local_run)
    assert (row_hashes(other_seed) != reference).mean() > 0.9
    assert (row_hashes(other_layout) != reference).mean() > 0.5


def test_ray_gives_the_same_rows_as_the_local_path(local_run, tiny_generator, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'lookalike[ray]')")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    try:
        out = tiny_generator.sample(2500, seed=5, out=tmp_path / "big", shard_rows=1000, ray=True, workers=2)
        assert part_bytes(out) == part_bytes(local_run)
        # an error raised in a shard ends the run with that error, and nothing is left behind
        seed = pd.DataFrame({"age": [30] * 1500 + ["n/a"] * 10})
        with pytest.raises(ConfigError, match="'age'"):
            tiny_generator.sample(seed_data=seed, seed=1, out=tmp_path / "bad", shard_rows=1000, ray=True)
        assert leftovers(tmp_path) == ["big"]
    finally:
        ray.shutdown()


def test_an_error_in_a_late_shard_leaves_no_partial_folder(tiny_generator, tmp_path):
    # the seed's bad value sits in the second shard: the first is drawn (and written) before it fails
    seed = pd.DataFrame({"age": [30] * 1500 + ["n/a"] * 10})
    with pytest.raises(ConfigError, match="'age'.*n/a"):
        tiny_generator.sample(seed_data=seed, seed=1, out=tmp_path / "big", shard_rows=1000, workers=2)
    assert leftovers(tmp_path) == []


def test_targets_that_cannot_take_the_parts_are_refused_before_any_work(tiny_generator, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        tiny_generator.sample(100, out=tmp_path / "missing" / "big", shard_rows=50)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="notes.txt"):
        tiny_generator.sample(100, out=busy, shard_rows=50)
    assert leftovers(busy) == ["notes.txt"] and leftovers(tmp_path) == ["busy"]


def test_a_previous_runs_parts_are_replaced_whole(tiny_generator, tmp_path):
    out = tmp_path / "big"
    tiny_generator.sample(300, seed=1, out=out, shard_rows=100)
    tiny_generator.sample(150, seed=1, out=out, shard_rows=100)
    assert leftovers(out) == ["part-00000.parquet", "part-00001.parquet"]
    assert len(pd.read_parquet(out)) == 150 and leftovers(tmp_path) == ["big"]


def test_generation_options_reach_every_shard(tiny_generator, tmp_path):
    cold = pd.read_parquet(tiny_generator.sample(2000, seed=2, out=tmp_path / "cold", shard_rows=700,
                                                 workers=2, temperature=0.3))
    warm = pd.read_parquet(tiny_generator.sample(2000, seed=2, out=tmp_path / "warm", shard_rows=700))
    assert cold["age"].nunique() < warm["age"].nunique()
    seed = pd.DataFrame({"level": ["low", "top"] * 600})
    seeded = pd.read_parquet(tiny_generator.sample(seed_data=seed, seed=3, out=tmp_path / "seeded", shard_rows=500,
                                                   rebalance={"member": {"True": 0.8}}))
    assert len(seeded) == 1200 and (seeded["level"] == seed["level"]).all()  # seed rows kept, in order
    assert abs(seeded["member"].mean() - 0.8) < 0.06


def test_options_that_do_not_go_together_are_named(tiny_generator, tmp_path):
    with pytest.raises(ConfigError, match="folder"):
        tiny_generator.sample(100, workers=2)
    with pytest.raises(ConfigError, match="folder"):
        tiny_generator.sample(100, out=tmp_path / "s.parquet", workers=2)
    with pytest.raises(ConfigError, match="ray"):
        tiny_generator.sample(100, out=tmp_path / "big", ray_address="auto")
    with pytest.raises(ConfigError, match="workers"):
        tiny_generator.sample(100, out=tmp_path / "big", workers=0)
    assert leftovers(tmp_path) == []


def test_cli_generates_a_folder_with_workers(tiny_generator, tmp_path):
    from typer.testing import CliRunner

    from lookalike.cli import app

    model = tiny_generator.save(tmp_path / "m.lookalike")
    out = tmp_path / "big"
    r = CliRunner().invoke(app, ["generate", str(model), "--rows", "1200", "--out", f"{out}/", "--shard-rows", "500",
                                 "--seed", "1", "-q"])
    assert r.exit_code == 0, r.output
    assert len(pd.read_parquet(out)) == 1200 and len(leftovers(out)) == 3
    r = CliRunner().invoke(app, ["generate", str(model), "--out", str(tmp_path / "s.csv"), "--workers", "2"])
    assert r.exit_code == 1 and "folder" in r.output
