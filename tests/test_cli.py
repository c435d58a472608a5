"""The CLI mirrors the API: every command documented, errors as one line and exit 1."""

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from lookalike.cli import app

runner = CliRunner()
README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture(scope="module")
def csv(tmp_path_factory, mixed_frame):
    p = tmp_path_factory.mktemp("cli") / "data.csv"
    mixed_frame.to_csv(p, index=False)
    return p


@pytest.fixture(scope="module")
def model(csv):
    out = csv.parent / "m.lookalike"
    r = runner.invoke(app, ["train", str(csv), "--out", str(out), "--max-epochs", "2", "--seed", "0", "-q"])
    assert r.exit_code == 0, r.output
    return out


def test_every_command_has_help_and_is_in_the_readme():
    text = README.read_text()
    for cmd in app.registered_commands:
        name = cmd.name or cmd.callback.__name__
        assert cmd.callback.__doc__, f"command {name} lacks help text"
        assert re.search(rf"lookalike {name}\b", text), f"command {name} is not documented in README.md"


def test_train_then_generate_csv_and_parquet(model, tmp_path):
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"s.{suffix}"
        r = runner.invoke(app, ["generate", str(model), "--rows", "120", "--out", str(out), "--seed", "1", "-q"])
        assert r.exit_code == 0, r.output
        df = pd.read_csv(out) if suffix == "csv" else pd.read_parquet(out)
        assert len(df) == 120 and "age" in df.columns


def test_generate_rejects_bad_rows_without_leaving_a_file(model, tmp_path):
    out = tmp_path / "s.csv"
    for rows in ("0", "-3"):
        r = runner.invoke(app, ["generate", str(model), "--rows", rows, "--out", str(out)])
        assert r.exit_code == 1 and "--rows" in r.output
    assert not out.exists() and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", "missing.csv", "--out", "m.lookalike"], "not found"),
        (["train", "data.xlsx", "--out", "m.lookalike"], "unsupported file type"),
        (["train", "empty.csv", "--out", "m.lookalike"], "empty"),
        (["train", "data.csv", "--out", "m.lookalike", "--max-epochs", "0"], "max_epochs"),
        (["train", "data.csv", "--out", "m.lookalike", "--type", "nope=numeric"], "nope"),
        (["generate", "foreign.lookalike", "--out", "s.csv"], "not a lookalike model file"),
        (["generate", "missing.lookalike", "--out", "s.csv"], "not found"),
        (["generate", "foreign.lookalike", "--out", "s.xlsx"], "unsupported file type"),
        (["report", "foreign.lookalike", "--synthetic", "data.csv", "--out", "r.html"], "not both"),
    ],
)
def test_bad_input_gives_one_line_and_exit_1(tmp_path, monkeypatch, mixed_frame, args, message):
    monkeypatch.chdir(tmp_path)
    mixed_frame.to_csv("data.csv", index=False)
    Path("data.xlsx").write_text("x")
    Path("empty.csv").write_text("")
    Path("foreign.lookalike").write_text("not a model")
    before = set(Path().iterdir())
    r = runner.invoke(app, args)
    assert r.exit_code == 1
    assert message in r.output
    assert "Traceback" not in r.output
    assert set(Path().iterdir()) == before  # nothing half-written left behind


def test_report_from_model(model, tmp_path):
    out = tmp_path / "r.html"
    js = tmp_path / "m.json"
    r = runner.invoke(app, ["report", str(model), "--out", str(out), "--json", str(js), "-q"])
    assert r.exit_code == 0, r.output
    assert out.exists() and js.exists() and "accuracy" in r.output


def test_report_on_rebalanced_data_has_model_and_data_qa(model, tmp_path):
    import json

    js = tmp_path / "m.json"
    r = runner.invoke(app, ["report", str(model), "--out", str(tmp_path / "r.html"), "--json", str(js),
                            "--rebalance", '{"level": {"top": 0.5}}', "-q"])
    assert r.exit_code == 0, r.output
    metrics = json.loads(js.read_text())
    assert metrics["model"] is not None  # Model QA beside the delivered data's Data QA
    assert metrics["settings"]["generation"]["rebalance"] == {"level": {"top": 0.5}}


def test_info_lists_columns(model):
    r = runner.invoke(app, ["info", str(model)])
    assert r.exit_code == 0 and '"age": "numeric"' in r.output
    import json

    about = json.loads(r.output)
    assert about["encoding"]["income"]["bins"] >= 1  # how each number is represented
    assert about["encoding"]["age"]["unit"] == 1.0  # integers stay integers
    assert about["network"] == {"size": "small", "first_layer": "dense"}


def test_help_is_instant_because_torch_loads_lazily():
    import subprocess
    import sys

    code = "import sys, lookalike.cli; print('torch' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def _one_error_line(r) -> str:
    """The whole output of a failed command: exit code 1 and a single 'error: ...' line."""
    lines = r.output.strip().splitlines()
    assert r.exit_code == 1, r.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.output, r.output
    return lines[0]


# --- what the user can get wrong: one line naming the file, exit 1 ---------------------------
@pytest.mark.parametrize("where", ["a-file", "/proc"])
def test_an_output_that_cannot_be_written_is_one_line(model, csv, tmp_path, where):
    if where == "a-file":
        (tmp_path / "a-file").write_text("a file, not a folder")
        where = str(tmp_path / "a-file")
    elif not Path(where).is_dir():
        pytest.skip("no /proc here")
    line = _one_error_line(runner.invoke(app, ["generate", str(model), "--out", f"{where}/syn.csv", "-q"]))
    assert "syn.csv" in line
    # training refuses before it spends any time
    line = _one_error_line(runner.invoke(app, ["train", str(csv), "--out", f"{where}/m.lookalike", "-q"]))
    assert "m.lookalike" in line and not list(tmp_path.glob("**/m.lookalike*"))


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line(model, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    line = _one_error_line(runner.invoke(app, ["generate", str(model), "--out", str(ro / "syn.csv"), "-q"]))
    assert "syn.csv" in line and not list(ro.iterdir())


def _malformed_models(model: Path, folder: Path) -> dict[str, Path]:
    import zipfile

    good = model.read_bytes()
    files = {"random": os.urandom(3000), "truncated": good[: len(good) // 2], "empty": b""}
    with zipfile.ZipFile(model) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["meta.json"] = b'{"format": "lookalike-model", "format_version": 1}'  # no network description
    with zipfile.ZipFile(folder / "malformed.lookalike", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    for name, data in files.items():
        (folder / f"{name}.lookalike").write_bytes(data)
    return {name: folder / f"{name}.lookalike" for name in [*files, "malformed"]}


@pytest.mark.parametrize("command", ["generate", "info", "report"])
def test_a_corrupt_model_file_is_one_line_naming_it(model, tmp_path, command):
    for kind, path in _malformed_models(model, tmp_path).items():
        args = {"generate": ["generate", str(path), "--out", str(tmp_path / "s.csv")], "info": ["info", str(path)],
                "report": ["report", str(path), "--out", str(tmp_path / "r.html")]}[command]
        line = _one_error_line(runner.invoke(app, args))
        assert path.name in line, (kind, line)
    assert not (tmp_path / "s.csv").exists() and not (tmp_path / "r.html").exists()


def test_size_is_for_related_tables_only(model, tmp_path):
    line = _one_error_line(runner.invoke(app, ["generate", str(model), "--out", str(tmp_path / "s.csv"),
                                               "--size", "users=10"]))
    assert "--size" in line and "--rows" in line


# --- related tables: options pass through, or are refused by name ---------------------------
@pytest.fixture(scope="module")
def shop_model(tmp_path_factory):
    """A tiny related-tables model (40 users, their orders), trained by the CLI in 1 epoch."""
    import json

    import numpy as np

    folder = tmp_path_factory.mktemp("shop")
    rng = np.random.default_rng(0)
    users = pd.DataFrame({"id": range(1, 41), "segment": rng.choice(["basic", "vip"], 40)})
    orders = pd.DataFrame({"oid": range(1, 101), "users_id": rng.integers(1, 41, 100),
                           "amount": np.round(rng.lognormal(3, 0.5, 100), 2)})
    users.to_csv(folder / "users.csv", index=False)
    orders.to_csv(folder / "orders.csv", index=False)
    schema = {"tables": [{"name": "users", "data": "users.csv", "primary_key": "id"},
                         {"name": "orders", "data": "orders.csv", "primary_key": "oid",
                          "foreign_keys": [{"column": "users_id", "references": "users", "context": True}]}],
              "options": {"max_epochs": 1, "seed": 0, "model_size": "small"}}
    (folder / "schema.json").write_text(json.dumps(schema))
    out = folder / "shop.lookalike"
    r = runner.invoke(app, ["train", "--config", str(folder / "schema.json"), "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    return out


def test_related_tables_generation_takes_seed_temperature_and_top_p(shop_model, tmp_path):
    def generate(name: str, *options: str) -> pd.DataFrame:
        r = runner.invoke(app, ["generate", str(shop_model), "--out", str(tmp_path / name), "--size", "users=30",
                                *options])
        assert r.exit_code == 0, r.output
        return pd.read_csv(tmp_path / name / "orders.csv")

    plain = generate("a", "--seed", "1")
    pd.testing.assert_frame_equal(plain, generate("b", "--seed", "1"))  # the seed reaches the engine
    assert len(pd.read_csv(tmp_path / "a" / "users.csv")) == 30
    cool = generate("c", "--seed", "1", "--temperature", "0.3", "--top-p", "0.5")
    assert not plain.equals(cool)  # the same seed, other sampling settings: other rows
    for option, value in (("--temperature", "0"), ("--top-p", "1.5")):  # and the engine checks them
        line = _one_error_line(runner.invoke(app, ["generate", str(shop_model), "--out", str(tmp_path / "d"),
                                                   option, value]))
        assert option.strip("-").replace("-", "_") in line
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("args, named", [
    (["--rows", "100"], "--size TABLE=N"),
    (["--seed-data", "seed.csv"], "--seed-data"),
    (["--impute", "amount"], "--impute"),
    (["--rebalance", '{"segment": {"vip": 0.5}}'], "--rebalance"),
    (["--fairness", '{"target": "segment", "sensitive": ["amount"]}'], "--fairness"),
])
def test_related_tables_generation_refuses_what_does_not_apply(shop_model, tmp_path, args, named):
    line = _one_error_line(runner.invoke(app, ["generate", str(shop_model), "--out", str(tmp_path / "syn"), *args]))
    assert args[0] in line and named in line and "related tables" in line
    assert not (tmp_path / "syn").exists()


def test_related_tables_report_refuses_what_does_not_apply(shop_model, csv, tmp_path):
    line = _one_error_line(runner.invoke(app, ["report", str(shop_model), "--target", "segment", "--holdout", str(csv),
                                               "--out", str(tmp_path / "r.html")]))
    assert "--target" in line and "--holdout" in line and not (tmp_path / "r.html").exists()


def test_related_tables_training_refuses_data_and_holdout(shop_model, csv, tmp_path):
    schema = str(shop_model.parent / "schema.json")
    out = str(tmp_path / "m.lookalike")
    line = _one_error_line(runner.invoke(app, ["train", str(csv), "--config", schema, "--out", out, "-q"]))
    assert "DATA" in line and "related tables" in line
    line = _one_error_line(runner.invoke(app, ["train", "--config", schema, "--holdout", str(csv), "--out", out, "-q"]))
    assert "--holdout" in line
    assert not list(tmp_path.iterdir())


def test_schema_file_options_are_not_overridden_by_cli_defaults(tmp_path):
    """`train --config` without --seed keeps the schema file's own seed: two runs give the
    same model (the file's seed is recorded, and the same tables come out)."""
    import json

    from test_relational import make_shop

    users, purchases = make_shop(120)
    users.to_csv(tmp_path / "users.csv", index=False)
    purchases.to_csv(tmp_path / "purchases.csv", index=False)
    schema = {"tables": [{"name": "users", "data": str(tmp_path / "users.csv"), "primary_key": "id"},
                         {"name": "purchases", "data": str(tmp_path / "purchases.csv"), "primary_key": "pid",
                          "foreign_keys": [{"column": "users_id", "references": "users", "context": True}]}],
              "options": {"seed": 7, "max_epochs": 1, "model_size": "small"}}
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    for name in ("a", "b"):
        r = runner.invoke(app, ["train", "--config", str(tmp_path / "schema.json"), "--out", str(tmp_path / f"{name}.lookalike"),
                                "--quiet"])
        assert r.exit_code == 0, r.output
    about = json.loads(runner.invoke(app, ["info", str(tmp_path / "a.lookalike")]).output)
    assert about["config"]["seed"] == 7
    import lookalike

    a, b = (lookalike.load(tmp_path / f"{n}.lookalike").sample({"users": 50}, seed=1) for n in ("a", "b"))
    pd.testing.assert_frame_equal(a["purchases"], b["purchases"])
