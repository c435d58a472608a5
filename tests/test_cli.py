"""The CLI mirrors the API: every command documented, errors as one line and exit 1."""

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
