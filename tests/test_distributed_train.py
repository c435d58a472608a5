"""One table's model trained data-parallel on Ray Train (PyTorch DDP): two workers, each on
a shard of the rows, make the usual model file, whose rows have the table's columns and
categories and its marginals; options Ray cannot honour are refused before any work,
naming the option."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import pytest

import lookalike
from lookalike.errors import ConfigError

PLANS = {"basic": 0.6, "plus": 0.3, "pro": 0.1}


def make_people(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plan = rng.choice(list(PLANS), n, p=list(PLANS.values()))
    return pd.DataFrame({"plan": plan, "age": rng.integers(18, 80, n),
                         "spend": np.round(rng.lognormal(3, 0.5, n) * np.where(plan == "pro", 3, 1), 2)})


@pytest.fixture(scope="module")
def people_parts(tmp_path_factory):
    """The table as a folder of two Parquet parts (as `generate --out big/` writes them)."""
    folder = tmp_path_factory.mktemp("people") / "people"
    folder.mkdir()
    df = make_people()
    df.iloc[:200].to_parquet(folder / "part-00000.parquet", index=False)
    df.iloc[200:].to_parquet(folder / "part-00001.parquet", index=False)
    return folder


def test_a_parquet_folder_reads_as_one_table(people_parts):
    from lookalike.io import read_table

    df = read_table(people_parts)
    assert len(df) == 400 and list(df.columns) == ["plan", "age", "spend"]


def test_a_flat_model_trains_data_parallel_on_two_ray_workers(people_parts, tmp_path):
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'lookalike[ray]')")
    pytest.importorskip("ray.train.torch", reason="Ray Train is not installed (pip install 'lookalike[ray]')")
    from typer.testing import CliRunner

    from lookalike.cli import app

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    epochs = []
    try:
        g = lookalike.train(str(people_parts), ray=True, ray_workers=2, max_epochs=2, seed=1, progress=False,
                            on_progress=epochs.append)
    finally:
        ray.shutdown()
    assert g.training_["data_parallel"] == {"backend": "ray_train_ddp", "workers": 2, "cpus_per_worker": 1.0,
                                            "device": "cpu"}
    assert g.training_["epochs"] == 2 and [p.epoch for p in epochs] == [1, 2]  # rank 0's epochs, reported here
    assert epochs[-1].val_loss == pytest.approx(g.training_["val_loss"], abs=1e-4)  # one validation loss for all
    # the usual model file: it loads without Ray and draws the table's columns and categories
    path = g.save(tmp_path / "people.lookalike")
    sample = lookalike.load(path).sample(3000, seed=2)
    assert list(sample.columns) == ["plan", "age", "spend"]
    assert set(sample["plan"]) <= set(PLANS)
    share = sample["plan"].value_counts(normalize=True)
    for plan, p in PLANS.items():
        assert abs(share.get(plan, 0.0) - p) < 0.05, (plan, share.to_dict())
    assert sample["age"].between(18, 80).all()
    r = CliRunner().invoke(app, ["info", str(path)])
    assert r.exit_code == 0 and "trained data-parallel with 2 workers" in r.output


def test_a_killed_worker_restarts_the_data_parallel_training(tmp_path):
    """A worker process killed after the first epoch: Ray Train starts the workers again,
    the training runs to its end, and the model records the restart."""
    import os
    import signal

    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'lookalike[ray]')")
    pytest.importorskip("ray.train.torch", reason="Ray Train is not installed (pip install 'lookalike[ray]')")
    from pathlib import Path

    if not Path("/proc/self/cmdline").exists():
        pytest.skip("finds the worker processes through /proc (Linux)")

    def train_workers() -> list[int]:
        """Ray titles a worker's process after its actor: "ray::RayTrainWorker..."."""
        found = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if proc.joinpath("cmdline").read_bytes().startswith(b"ray::RayTrainWorker"):
                    found.append(int(proc.name))
            except OSError:  # gone meanwhile
                pass
        return found

    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    killed: list[int] = []

    def kill_once(p):
        if not killed:
            workers = train_workers()
            assert len(workers) == 2, workers
            killed.append(workers[-1])
            os.kill(killed[0], signal.SIGKILL)

    try:
        g = lookalike.train(make_people(), ray=True, ray_workers=2, max_epochs=3, seed=1, progress=False,
                            on_progress=kill_once)
    finally:
        ray.shutdown()
    assert killed and g.training_["data_parallel"]["restarts"] == 1
    assert g.training_["epochs"] == 3
    assert set(g.sample(500, seed=0)["plan"]) <= set(PLANS)


@pytest.mark.parametrize("options, words", [
    ({"ray": True, "differential_privacy": True}, "differential_privacy does not train data-parallel (ray=True)"),
    ({"ray": True, "ray_workers": 0}, "ray_workers must be a positive number of workers, got 0"),
    ({"ray_workers": 2}, "ray_workers (--ray-workers) needs ray=True (--ray)"),
    ({"ray_address": "auto"}, "ray_address (--ray-address) needs ray=True (--ray)"),
])
def test_options_ray_cannot_honour_are_refused_naming_them(options, words):
    if options.get("ray"):
        pytest.importorskip("ray.train.torch", reason="Ray Train is not installed (pip install 'lookalike[ray]')")
    with pytest.raises(ConfigError) as err:
        lookalike.train(make_people(50), max_epochs=1, progress=False, **options)
    assert words in str(err.value)


def test_ray_workers_is_for_one_table_and_a_missing_ray_names_the_extra(monkeypatch):
    with pytest.raises(ConfigError, match="ray_workers is for one table's model"):
        lookalike.train(tables=[{"name": "people", "data": make_people(50)}], ray=True, ray_workers=2)
    monkeypatch.setitem(sys.modules, "ray.train.torch", None)  # as if Ray Train were not installed
    with pytest.raises(ConfigError, match=r"pip install 'lookalike\[ray\]'"):
        lookalike.train(make_people(50), ray=True, max_epochs=1, progress=False)


def test_cli_trains_on_ray_only_what_ray_can_train(tmp_path):
    pytest.importorskip("ray.train.torch", reason="Ray Train is not installed (pip install 'lookalike[ray]')")
    from typer.testing import CliRunner

    from lookalike.cli import app

    data = tmp_path / "people.csv"
    make_people(50).to_csv(data, index=False)
    r = CliRunner().invoke(app, ["train", str(data), "--out", str(tmp_path / "p.lookalike"), "--ray", "--dp-epsilon", "1"])
    assert r.exit_code == 1 and "differential_privacy does not train data-parallel" in r.output
    assert not (tmp_path / "p.lookalike").exists()
