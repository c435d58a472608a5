"""Text columns fine-tuned on a local Hugging Face causal LM (``text_model=PATH``): a tiny
GPT-2 and tokenizer built here (nothing downloaded), a small table, a few epochs."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

transformers = pytest.importorskip("transformers", reason="the text-hf extra: pip install 'lookalike[text-hf]'")
tokenizers = pytest.importorskip("tokenizers", reason="comes with transformers")

import lookalike  # noqa: E402
from conftest import titled_table  # noqa: E402
from lookalike.errors import ConfigError  # noqa: E402

def toy_table(n: int = 240, seed: int = 0) -> pd.DataFrame:
    """The shared titled table; its first title has words no other row uses."""
    return titled_table(n, seed, odd_title="beta zzyzx quokka")


def tiny_lm(folder, texts: list[str]) -> None:
    """A 1-layer GPT-2 with a byte-level BPE tokenizer trained on ``texts`` (and the
    prompts' words), saved with save_pretrained: what a user's local model folder holds."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts + ["kind: A | size: 3 | title: "] * 20, trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                                     bos_token="<|endoftext|>")
    eos = tokenizer.eos_token_id
    config = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=32, n_positions=128, vocab_size=len(tokenizer),
                                     bos_token_id=eos, eos_token_id=eos)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = transformers.GPT2LMHeadModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    df = toy_table()
    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tiny_lm(folder, [t for t in df["title"] if isinstance(t, str)])
    g = lookalike.train(df, types={"title": "text"}, text_model=str(folder), max_epochs=8, seed=1, progress=False,
                        holdout_share=0.0, text_never_replay=True)
    return df, g, folder


def texts(s: pd.Series) -> list[str]:
    return [t for t in s if isinstance(t, str)]


def test_texts_are_non_empty_and_use_the_columns_vocabulary(trained):
    df, g, _ = trained
    out = g.sample(200, seed=3)
    made = texts(out["title"])
    assert made and all(made)  # a text wherever the flat model drew one
    assert out["title"].isna().sum() + len(made) == 200
    assert abs(out["title"].isna().mean() - df["title"].isna().mean()) < 0.08
    words = set(" ".join(texts(df["title"])).split())
    assert {"zzyzx", "quokka"}.isdisjoint(" ".join(made).split())  # one row's words: never written
    used = [w for t in made for w in t.split()]
    assert np.mean([w in words for w in used]) > 0.8  # the column's words, not random byte soup
    assert set("".join(made)) <= set(g.encoder_.encoder("title").vocab_)


def test_text_follows_its_row(trained):
    _, g, _ = trained
    out = g.sample(200, seed=4)
    rows = [(k, t) for k, t in zip(out["kind"], out["title"]) if isinstance(t, str)]
    assert np.mean([t.startswith("alpha" if k == "A" else "beta") for k, t in rows]) >= 0.85


def test_never_replay_rejects_training_texts(trained):
    df, g, _ = trained
    seen = set(texts(df["title"]))
    assert np.mean([t in seen for t in texts(g.sample(300, seed=2)["title"])]) < 0.01
    kept, g.text_.replay = g.text_.replay, {}
    try:  # the same model without the filter replays some on this small vocabulary
        assert np.mean([t in seen for t in texts(g.sample(300, seed=2)["title"])]) > 0.04
    finally:
        g.text_.replay = kept


def test_imputes_missing_texts(trained):
    df, g, _ = trained
    gaps = df.head(40).copy()
    gaps.loc[:9, "title"] = None
    filled = g.impute(gaps, seed=1)
    assert filled["title"].notna().all() and all(filled["title"])
    pd.testing.assert_series_equal(filled["title"][10:], gaps["title"][10:].fillna(filled["title"]))


def test_same_seed_same_texts(trained):
    _, g, _ = trained
    a, b, c = g.sample(60, seed=7), g.sample(60, seed=7), g.sample(60, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["title"].equals(c["title"])


def test_model_file_generates_without_the_folder(trained, tmp_path):
    _, g, folder = trained
    path = g.save(tmp_path / "m.lookalike")
    moved = tmp_path / "gone"
    shutil.copytree(folder, moved)
    shutil.rmtree(folder)
    try:
        g2 = lookalike.load(path)
        assert type(g2.text_).__name__ == "PretrainedTextPart"
        pd.testing.assert_frame_equal(g2.sample(50, seed=5), g.sample(50, seed=5))
        assert g2.config_.text_model == str(folder)
    finally:
        shutil.copytree(moved, folder)


def test_a_tampered_text_model_is_refused(trained, tmp_path):
    import zipfile

    from lookalike.errors import ModelFileError

    _, g, _ = trained
    path = g.save(tmp_path / "m.lookalike")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(members["meta.json"])
    meta["text_model"]["hf_config"]["n_embd"] = 64  # the weights no longer fit the description
    members["meta.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(tmp_path / "bad.lookalike", "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(ModelFileError, match="corrupt"):
        lookalike.load(tmp_path / "bad.lookalike")


def test_a_pretrained_text_model_of_another_text_format_is_refused(trained, tmp_path):
    import zipfile

    from lookalike.errors import ModelFileError

    path = trained[1].save(tmp_path / "m.lookalike")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(members["meta.json"])
    assert meta["text_model"]["text_format"] == 3
    meta["text_model"]["text_format"] = 2
    members["meta.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(tmp_path / "old.lookalike", "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(ModelFileError, match="written by an older lookalike text format 2; retrain it with this "
                                             "version") as info:
        lookalike.load(tmp_path / "old.lookalike")
    assert "corrupt" not in str(info.value)


def test_info_names_the_pretrained_model(trained, tmp_path):
    from typer.testing import CliRunner

    from lookalike.cli import app

    _, g, _ = trained
    path = g.save(tmp_path / "m.lookalike")
    res = CliRunner().invoke(app, ["info", str(path)])
    assert res.exit_code == 0, res.output
    about = json.loads(res.output)["text_model"]
    assert "GPT2LMHeadModel" in about["model"]
    assert list(about["columns"]) == ["title"] and about["prompt_columns"] == ["kind", "size"]


def test_bad_path_names_the_option(tmp_path):
    df = toy_table(60)
    with pytest.raises(ConfigError, match="text_model.*does not exist"):
        lookalike.train(df, types={"title": "text"}, text_model=str(tmp_path / "nope"), progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="text_model.*no config.json"):
        lookalike.train(df, types={"title": "text"}, text_model=str(tmp_path / "empty"), progress=False)


def test_a_folder_that_does_not_load_is_a_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{\"model_type\": \"no-such-model\"}")
    with pytest.raises(ConfigError, match="text_model.*does not load"):
        lookalike.train(toy_table(60), types={"title": "text"}, text_model=str(tmp_path), progress=False)


def test_without_transformers_the_error_says_how_to_install(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "transformers", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"text_model.*pip install 'lookalike\[text-hf\]'"):
        lookalike.train(toy_table(60), types={"title": "text"}, text_model=str(tmp_path), progress=False)


def test_loading_without_transformers_says_how_to_install(trained, tmp_path, monkeypatch):
    import sys

    from lookalike.errors import ModelFileError

    path = trained[1].save(tmp_path / "m.lookalike")
    monkeypatch.setitem(sys.modules, "transformers", None)
    with pytest.raises(ModelFileError, match=r"GPT2LMHeadModel.*pip install 'lookalike\[text-hf\]'") as info:
        lookalike.load(path)
    assert "corrupt" not in str(info.value)


def test_cli_text_model_option(tmp_path):
    from typer.testing import CliRunner

    from lookalike.cli import app

    toy_table(60).to_csv(tmp_path / "t.csv", index=False)
    res = CliRunner().invoke(app, ["train", str(tmp_path / "t.csv"), "--out", str(tmp_path / "m.lookalike"),
                                   "--type", "title=text", "--text-model", str(tmp_path / "nope"), "--quiet"])
    assert res.exit_code != 0
    assert "text_model" in res.output and "does not exist" in res.output


def test_rest_trains_with_a_text_model(tmp_path):
    """The REST API's training option ``text_model``: the job fine-tunes the folder's model, the
    model records it, its file says so (``lookalike info``), and generation writes texts."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient
    from test_server import LOCAL, csv_bytes, run_job, upload
    from typer.testing import CliRunner

    from lookalike.cli import app
    from lookalike.server import create_app

    df = toy_table(60)
    folder = tmp_path / "tiny-gpt2"
    tiny_lm(folder, texts(df["title"]))
    with TestClient(create_app(tmp_path / "data"), base_url=LOCAL) as c:
        d = upload(c, csv_bytes(df), "rooms.csv").json()
        options = {"types": {"title": "text"}, "text_model": str(folder), "max_epochs": 1, "seed": 0}
        job = run_job(c, f"/api/datasets/{d['id']}/train", {"options": options})
        m = c.get(f"/api/models/{job['result_id']}").json()
        assert m["config"]["text_model"] == str(folder)
        assert m["training"]["text"]["model"] == "pretrained GPT2LMHeadModel"
        out = run_job(c, f"/api/models/{m['id']}/generate", {"rows": 20, "seed": 1})["result_id"]
        made = pd.read_csv(io.BytesIO(c.get(f"/api/outputs/{out}/download").content))
        assert len(made) == 20 and texts(made["title"])
        (tmp_path / "m.lookalike").write_bytes(c.get(f"/api/models/{m['id']}/download").content)
    res = CliRunner().invoke(app, ["info", str(tmp_path / "m.lookalike")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["text_model"]["model"] == "pretrained GPT2LMHeadModel (fine-tuned; from tiny-gpt2)"
