"""Text columns: a word or character model writes each row's texts given the row's other columns."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pandas as pd
import pytest
import torch

import lookalike
from conftest import TITLE_WORDS as WORDS, titled_table
from lookalike.encoding.text import TextEncoder
from lookalike.errors import ModelFileError
from lookalike.text.model import TextModel, text_shapes

def toy_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """The shared titled table; its first title has characters no other row uses."""
    return titled_table(n, seed, odd_title="beta café ß")


@pytest.fixture(scope="module")
def trained():
    df = toy_table()
    g = lookalike.train(df, types={"title": "text"}, max_epochs=4, seed=1, progress=False, holdout_share=0.0,
                        text_never_replay=True)
    return df, g


def texts(s: pd.Series) -> list[str]:
    return [t for t in s if isinstance(t, str)]


def test_texts_are_new_strings_of_the_training_characters(trained):
    df, g = trained
    out = g.sample(400, seed=3)
    made = texts(out["title"])
    assert made and "_RARE_" not in made and all(t for t in made)
    allowed = set(g.encoder_.encoder("title").vocab_)
    assert set("".join(made)) <= allowed
    assert not {"é", "ß"} & set("".join(made))  # used by one row only: never written
    assert abs(out["title"].isna().mean() - df["title"].isna().mean()) < 0.06


def test_text_follows_its_row(trained):
    _, g = trained
    out = g.sample(400, seed=4)
    rows = [(k, t) for k, t in zip(out["kind"], out["title"]) if isinstance(t, str)]
    ok = [t.startswith("alpha " if k == "A" else "beta ") for k, t in rows]
    assert np.mean(ok) >= 0.9


def test_same_seed_same_texts(trained):
    _, g = trained
    a, b, c = g.sample(200, seed=7), g.sample(200, seed=7), g.sample(200, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["title"].equals(c["title"])


def test_never_replay_rejects_training_texts(trained):
    df, g = trained
    seen = set(texts(df["title"]))
    replayed = np.mean([t in seen for t in texts(g.sample(400, seed=5)["title"])])
    assert replayed < 0.02
    kept, g.text_.replay = g.text_.replay, {}
    try:  # the same model without the filter replays often on this small vocabulary
        assert np.mean([t in seen for t in texts(g.sample(400, seed=5)["title"])]) > 0.05
    finally:
        g.text_.replay = kept


def test_seeded_texts_stay_and_missing_texts_are_imputed(trained):
    _, g = trained
    seed = pd.DataFrame({"kind": ["A", "B", "A"], "title": ["my own title", None, None]})
    out = g.sample(seed_data=seed, seed=1, impute=["title"])
    assert out["title"].iloc[0] == "my own title"
    assert all(isinstance(t, str) and t for t in out["title"].iloc[1:])
    real = pd.DataFrame({"kind": ["B", "A"], "size": [2, 3], "title": [None, "alpha kept"]})
    filled = g.impute(real, seed=2)
    assert isinstance(filled["title"].iloc[0], str) and filled["title"].iloc[0]
    assert filled["title"].iloc[1] == "alpha kept"


def test_model_file_round_trips_and_lists_the_tokenizer(trained, tmp_path):
    _, g = trained
    path = g.save(tmp_path / "m.lookalike")
    g2 = lookalike.load(path, device="cpu")
    pd.testing.assert_frame_equal(g.sample(100, seed=9), g2.sample(100, seed=9))
    about = g2.encoder_.encoder("title").describe()
    assert about["vocab_size"] == len(g.encoder_.encoder("title").vocab_) and about["max_length"] >= 10


def test_tampered_text_tensor_is_refused(trained, tmp_path):
    _, g = trained
    path = g.save(tmp_path / "m.lookalike")

    def grow(state):
        state["text.head.bias"] = torch.zeros(state["text.head.bias"].shape[0] + 5)
        return state

    with pytest.raises(ModelFileError, match="text.head.bias"):
        lookalike.load(_altered(path, tmp_path, weights=grow))

    def drop(state):
        return {k: v for k, v in state.items() if not k.startswith("text.")}

    with pytest.raises(ModelFileError, match="text"):
        lookalike.load(_altered(path, tmp_path, weights=drop))


def test_tampered_text_description_is_refused(trained, tmp_path):
    _, g = trained
    path = g.save(tmp_path / "m.lookalike")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(members["meta.json"])
    meta["text_model"]["hidden"] = 10**6
    members["meta.json"] = json.dumps(meta).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    bad = tmp_path / "bad.lookalike"
    bad.write_bytes(buf.getvalue())
    with pytest.raises(ModelFileError, match="text"):
        lookalike.load(bad)


def _altered(path, tmp_path, text_model=None, weights=None):
    """A copy of the model file with its text model description and weights passed through
    ``text_model`` and ``weights``."""
    from safetensors.torch import load, save

    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(members["meta.json"])
    if text_model is not None:
        text_model(meta["text_model"])
    members["meta.json"] = json.dumps(meta).encode()
    if weights is not None:
        members["weights.safetensors"] = save(weights(load(members["weights.safetensors"])))
    out = tmp_path / "altered.lookalike"
    with zipfile.ZipFile(out, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    return out


def test_a_file_of_another_text_format_is_refused_saying_which(trained, tmp_path):
    from lookalike.artifact import TEXT_FORMAT

    _, g = trained
    path = g.save(tmp_path / "m.lookalike")
    with zipfile.ZipFile(path) as z:
        assert json.loads(z.read("meta.json"))["text_model"]["text_format"] == TEXT_FORMAT == 3

    def recorded(fmt):
        return lambda desc: desc.update(text_format=fmt)

    with pytest.raises(ModelFileError, match=r"written by an older lookalike text format 2; retrain it with this "
                                             r"version") as info:
        lookalike.load(_altered(path, tmp_path, recorded(2)))
    assert "corrupt" not in str(info.value)
    with pytest.raises(ModelFileError, match=r"written by a newer lookalike text format 4;.*upgrade lookalike"):
        lookalike.load(_altered(path, tmp_path, recorded(4)))
    with pytest.raises(ModelFileError, match=r"invalid text model description \(text_format: '3'\)"):
        lookalike.load(_altered(path, tmp_path, recorded("3")))


def test_files_from_before_the_text_format_was_recorded(trained, tmp_path):
    """Such files say no text_format: those with the row's context at the output (format 3) load
    as before; those without it (format 2: no context head, no adaptive softmax) are refused as
    that older format, not as corrupt."""
    _, g = trained
    path = g.save(tmp_path / "m.lookalike")
    unrecorded = lambda desc: desc.pop("text_format")  # noqa: E731
    g2 = lookalike.load(_altered(path, tmp_path, unrecorded), device="cpu")
    pd.testing.assert_frame_equal(g.sample(50, seed=9), g2.sample(50, seed=9))

    def format_2(state):
        return {k: v for k, v in state.items() if not k.startswith("text.context_head.")}

    with pytest.raises(ModelFileError, match=r"written by an older lookalike text format 2; retrain") as info:
        lookalike.load(_altered(path, tmp_path, unrecorded, format_2))
    assert "corrupt" not in str(info.value)


@pytest.mark.parametrize("vocab,head_rank,room", [(40, 0, False), (40, 4, True), (3000, 8, True)])
def test_text_shapes_match_the_model(vocab, head_rank, room):
    m = TextModel([3, 5, 2], vocab_size=vocab, n_columns=2, embed=8, hidden=16, layers=2, head_rank=head_rank,
                  room=room)
    assert {k: tuple(v.shape) for k, v in m.state_dict().items()} == text_shapes([3, 5, 2], vocab, 2, 8, 16, 2,
                                                                                 head_rank, room)


def test_adaptive_softmax_is_a_distribution_and_its_loss_matches_it():
    m = TextModel([3, 5], vocab_size=3000, n_columns=1, embed=8, hidden=16, head_rank=8)
    assert m.cutoffs == [512, 2048, 3000]  # the frequent tokens, then two rarer clusters
    features, target = torch.randn(64, 8), torch.randint(3, 3000, (64,))
    log_probs = m.log_probs(features)
    assert torch.allclose(log_probs.exp().sum(1), torch.ones(64), atol=1e-5)
    assert torch.allclose(m.nll(features, target), -log_probs.gather(1, target[:, None])[:, 0], atol=1e-5)


def test_row_positions_order_the_rows_by_their_numeric_values():
    from lookalike.text import row_positions
    from lookalike.training import compact

    rng = np.random.default_rng(0)
    price = np.round(rng.lognormal(4, 0.8, 600))
    price[:60] = 100.0  # a point mass
    df = pd.DataFrame({"price": price, "kind": rng.choice(["A", "B"], 600), "title": ["a flat"] * 600})
    g = lookalike.train(df, types={"title": "text"}, max_epochs=1, seed=0, progress=False, holdout_share=0.0)
    tokens = compact(g.encoder_.encode(df))
    pos = row_positions(g.encoder_, tokens)
    at = g.encoder_.subs_of("price")[0]
    assert (pos[:, [i for i in range(pos.shape[1]) if i != at]] == 0).all()  # only the numeric column's first token
    ranks = [pd.Series(v).rank().to_numpy() for v in (price, pos[:, at])]
    assert np.corrcoef(*ranks)[0, 1] > 0.99  # in order (but for the few rows beyond the protected range)
    assert pos[:, at].min() < -0.9 and pos[:, at].max() > 0.9


def test_adaptive_draw_follows_the_restricted_distribution():
    from lookalike.text.sampling import _draw_adaptive

    torch.manual_seed(0)
    m = TextModel([3], vocab_size=3000, n_columns=1, embed=8, hidden=16, head_rank=8)
    with torch.no_grad():
        m.head.bias[-2:] += 3.0  # the rarer clusters are drawn often
    ids = torch.sort(torch.randperm(2997)[:1500] + 3).values
    ok = torch.rand(1, 1500) < 0.7
    n = 40_000
    features = torch.randn(1, 8).expand(n, 8)
    with torch.no_grad():
        exact = m.probs(features[:1], ids)[0] * ok[0]
        drawn = _draw_adaptive(m, features, ids, ok.expand(n, -1), torch.Generator().manual_seed(0))
    assert ok[0, drawn].all()  # never a token the row may not write
    freq, p = torch.bincount(drawn, minlength=1500).float() / n, exact / exact.sum()
    assert 0.5 * (freq - p).abs().sum() < 0.06
    cluster = torch.bucketize(ids, torch.tensor(m.cutoffs), right=True)  # 0: shortlist, 1, 2: rarer clusters
    for c in range(3):
        assert abs(float(freq[cluster == c].sum() - p[cluster == c].sum())) < 0.01


def test_vocabulary_lists_the_most_used_tokens_first():
    rng = np.random.default_rng(0)
    titles = pd.Series([" ".join(rng.choice(WORDS[:3], 3, p=[0.7, 0.2, 0.1])) for _ in range(300)])
    vocab = TextEncoder("t", "object").fit(titles, rng, protect=True).vocab_
    assert vocab[:2] == [" cosy", "cosy"] and vocab.index(" flat") < vocab.index(" near")
    from lookalike.text.model import TextVocab

    assert TextVocab.of([["b", "x", "a"], ["y", "a"]]).pieces == ["b", "y", "a", "x"]  # best rank in any column
    assert TextVocab.of([["a", "b"], ["c"]]).pieces == ["a", "b", "c"]  # alphabetical (older files): as before


def test_texts_keep_to_their_length_bucket(trained):
    from lookalike.training import compact
    from lookalike.text.sampling import write_texts

    df, g = trained
    enc = g.encoder_.encoder("title")
    tokens = compact(g.encoder_.encode(df))
    bucket = tokens[:, g.encoder_.subs_of("title")[0]]
    made = write_texts(g.text_, g.encoder_, tokens, torch.Generator().manual_seed(0))["title"]
    for b, t in zip(bucket, made):
        assert (t is None) == (b == 0)
        if t is not None:
            assert enc.min_length(np.array([b]))[0] <= len(t) <= enc.max_length(np.array([b]))[0]


def test_tokenizer_is_chosen_by_the_column_shape():
    rng = np.random.default_rng(0)
    titles = pd.Series([" ".join(rng.choice(WORDS, 4)) + "!" for _ in range(200)] + ["cosy grove flat"] * 3)
    enc = TextEncoder("t", "object").fit(titles, rng, protect=True)
    assert enc.tokenizer_ == "words" and enc.describe()["tokenizer"] == "words"
    assert {"cosy", " flat", "!"} <= set(enc.vocab_) and " grove" not in enc.vocab_  # 3 rows: spelled out
    for text in ["cosy grove flat!", "park  view", "  garden"]:
        assert "".join(enc.tokenize(text)) == text
    assert enc.tokenize("cosy grove")[:2] == ["cosy", " "] and len(enc.tokenize("cosy grove")) == 7
    codes = pd.Series(["".join(rng.choice(list("ABCDEFGH0123456789"), 8)) for _ in range(200)])
    assert TextEncoder("c", "object").fit(codes, rng, protect=True).tokenizer_ == "characters"


def test_a_length_many_texts_share_gets_a_bucket_of_its_own():
    # a field capped at 20 characters: 5% of the texts are cut there (fewer than one eighth:
    # no quantile bucket would start there), the rest are shorter
    rng = np.random.default_rng(0)
    short = ["".join(rng.choice(list("abcdefgh "), rng.integers(5, 20))) for _ in range(190)]
    texts = pd.Series(short + ["x" * 20] * 10)
    enc = TextEncoder("t", "object").fit(texts, rng, protect=True)
    tokens = enc.encode(texts)[:, 0]
    capped = tokens[-10:]
    assert (capped == capped[0]).all() and not np.isin(capped[0], tokens[:-10])  # nothing else in that bucket
    assert enc.min_length(capped)[0] == enc.max_length(capped)[0] == 20
    rebuilt = TextEncoder.from_state(json.loads(json.dumps(enc.state())))  # the file's check accepts it
    assert rebuilt.length_starts_ == enc.length_starts_


def test_tokenizer_keeps_characters_of_five_rows_and_maps_rare_ones():
    s = pd.Series(["résumé"] + ["resume", "cafe", "test", "ab", "xy"] * 5 + [None])
    enc = TextEncoder("t", "object").fit(s, np.random.default_rng(0), protect=True)
    assert "é" not in enc.vocab_ and "e" in enc.vocab_
    assert enc.clean("résumé") == "resume"
    tokens = enc.encode(s)[:, 0]
    assert tokens[-1] == 0 and (tokens[:-1] >= 1).all()


def test_a_table_without_text_has_no_text_model(tmp_path):
    df = toy_table(120).drop(columns="title")
    g = lookalike.train(df, max_epochs=1, seed=0, progress=False)
    assert g.text_ is None
    with zipfile.ZipFile(g.save(tmp_path / "m.lookalike")) as z:
        assert "text_model" not in json.loads(z.read("meta.json"))


def test_raking_brings_the_token_counts_back(trained):
    """``rake_text`` (run after training) moves the output biases until the texts written for
    the training rows use each token as often as the training texts: a token pushed far
    above its share comes back to it."""
    import copy

    from lookalike.text.model import SPECIALS
    from lookalike.text.sampling import _draw_ids, rake_text
    from lookalike.text.training import sequences, text_columns

    df, g = trained
    part, enc = copy.deepcopy(g.text_), g.encoder_
    seqs, tokens = sequences(text_columns(enc), part.vocab, df), enc.encode(df)
    V = part.model.vocab_size

    def shares(ids) -> torch.Tensor:
        n = torch.bincount(torch.as_tensor(ids).flatten(), minlength=V).double()
        n[:SPECIALS] = 0
        return n / n.sum()

    want = shares(seqs)
    letters = torch.tensor([0.0] * SPECIALS + [float(t.strip().isalpha()) for t in part.vocab.pieces], dtype=torch.float64)
    free = letters * (want < 0.1)  # a word the row does not dictate ("alpha"/"beta" start every title)
    top = int((want * free).argmax())
    assert top < part.model.cutoffs[0]
    with torch.no_grad():
        part.model.head.bias[top] += 2.0
    pushed = float(shares(_draw_ids(part, enc, tokens, torch.Generator().manual_seed(1), 1.0, 1.0)[0])[top])
    rake_text(part, enc, tokens, seqs, torch.Generator().manual_seed(0), rounds=3)
    back = float(shares(_draw_ids(part, enc, tokens, torch.Generator().manual_seed(2), 1.0, 1.0)[0])[top])
    assert pushed > want[top] + 0.05
    assert abs(back - want[top]) < 0.25 * (pushed - want[top])
