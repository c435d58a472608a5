"""The QA report's text section on tiny frames: holdout-like text scores like the holdout,
gibberish does not, copies are counted, and the section appears only for text columns."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lookalike.qa.text import TextReference, text_columns

WORDS = np.array(
    "the a service was great food slow friendly staff room clean price cheap again would not come back "
    "very good bad nice quiet loud view breakfast late early bed small large".split()
)


def reviews(n: int, seed: int) -> pd.DataFrame:
    """Short reviews drawn from one skewed word distribution, a few nulls, and a category."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, len(WORDS) + 1)
    texts = [" ".join(rng.choice(WORDS, rng.integers(4, 16), p=p / p.sum())).capitalize() + "."
             for _ in range(n)]
    review = pd.Series(texts, dtype=object)
    review[rng.random(n) < 0.05] = None
    return pd.DataFrame({"stars": rng.integers(1, 6, n), "hotel": rng.choice(["A", "B", "C"], n), "review": review})


def gibberish(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    texts = [" ".join("".join(rng.choice(letters, rng.integers(2, 8))) for _ in range(rng.integers(4, 16)))
             for _ in range(n)]
    return pd.DataFrame({"stars": rng.integers(1, 6, n), "hotel": rng.choice(["A", "B", "C"], n), "review": texts})


@pytest.fixture(scope="module")
def tables():
    return reviews(400, 1), reviews(300, 2), reviews(300, 3)  # train, synthetic, holdout


def scored(train, synthetic, holdout):
    ref = TextReference.build(train, holdout, text_columns(train), seed=0)
    return ref.score(synthetic)["review"]


def test_text_columns_are_found_and_overridable(tables):
    train = tables[0]
    assert text_columns(train) == ["review"]
    assert text_columns(train, {"review": "categorical"}) == []
    assert text_columns(train, {"hotel": "text"}) == ["hotel", "review"]


def test_holdout_like_text_scores_like_the_holdout(tables):
    t = scored(*tables)
    ref = t.reference
    assert ref is not None
    for field in ("length_accuracy", "term_accuracy", "unique_share", "distinct_2", "non_empty_share"):
        assert getattr(t, field) == pytest.approx(getattr(ref, field), abs=0.06), field
    assert t.term_accuracy > 0.9 and t.length_accuracy > 0.85
    assert t.null_share == pytest.approx(0.05, abs=0.04)
    assert t.exact_match_share < 0.05
    assert len(t.samples) == 5 and len(t.real_samples) == 5


def test_gibberish_has_low_term_accuracy(tables):
    train, _, holdout = tables
    t = scored(train, gibberish(300, 4), holdout)
    assert t.term_accuracy < 0.2 < t.reference.term_accuracy - 0.6
    assert t.null_share == 0.0


def test_copies_of_training_texts_are_exact_matches(tables):
    train, _, holdout = tables
    t = scored(train, train.sample(200, random_state=0), holdout)
    assert t.exact_match_share == 1.0
    assert t.reference.exact_match_share < 0.05


def test_report_has_a_text_section(tables, tmp_path):
    pytest.importorskip("lightgbm", reason="the QA extra is not installed: pip install 'lookalike[qa]'")
    pytest.importorskip("plotly", reason="the QA extra is not installed: pip install 'lookalike[qa]'")
    from lookalike.qa import report

    train, synthetic, holdout = tables
    synthetic = synthetic.copy()
    synthetic.loc[0, "review"] = "<script>alert(1)</script> the room"
    out = tmp_path / "r.html"
    m = report(synthetic, train, holdout, out=out, json_out=tmp_path / "r.json", attacks=False)
    assert set(m.text) == {"review"}
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["text"]["review"]["reference"]["term_accuracy"] > 0.9
    page = out.read_text()
    assert "<h2>Text</h2>" in page and "Sample texts: review" in page
    assert "<script>alert(1)</script>" not in page  # sample texts are escaped
    # same seed, same figures
    again = report(synthetic, train, holdout, out=None, attacks=False)
    assert again.text == m.text


def test_no_text_columns_no_text_section(tables, tmp_path):
    pytest.importorskip("lightgbm", reason="the QA extra is not installed: pip install 'lookalike[qa]'")
    pytest.importorskip("plotly", reason="the QA extra is not installed: pip install 'lookalike[qa]'")
    from lookalike.qa import report

    train, synthetic, holdout = (t.drop(columns="review") for t in tables)
    out = tmp_path / "r.html"
    m = report(synthetic, train, holdout, out=out, json_out=tmp_path / "r.json", attacks=False)
    assert m.text is None
    assert json.loads((tmp_path / "r.json").read_text())["text"] is None
    assert "<h2>Text</h2>" not in out.read_text()


def listings(n: int, seed: int) -> pd.DataFrame:
    """Titles that say what the row is: posh rows are dear and called "luxury ...", budget
    rows cheap and "cosy small ..."; both share the other words."""
    rng = np.random.default_rng(seed)
    posh = rng.random(n) < 0.4
    price = np.where(posh, rng.normal(300, 30, n), rng.normal(60, 8, n)).round()
    shared = np.array(["flat", "room", "near", "park", "with", "garden", "view", "central"])
    titles = [("luxury penthouse " if p else "cosy small ") + " ".join(rng.choice(shared, 3)) for p in posh]
    return pd.DataFrame({"price": price, "kind": np.where(posh, "posh", "budget"), "title": titles})


def test_text_that_fits_its_row_scores_like_the_holdout():
    train, synthetic, holdout = listings(500, 1), listings(400, 2), listings(400, 3)
    ref = TextReference.build(train, holdout, ["title"], seed=0)
    good = ref.score(synthetic)["title"]
    shuffled = synthetic.assign(title=synthetic["title"].sample(frac=1, random_state=0).to_numpy())
    bad = ref.score(shuffled)["title"]
    assert good.reference.classifier_accuracy > 0.95 and good.classifier_accuracy > 0.95
    assert good.reference.term_median_accuracy == 1.0 and good.term_median_accuracy == 1.0
    # the four words that tell posh from budget rows miss their medians; shared words keep theirs
    assert bad.classifier_accuracy < 0.75 and bad.term_median_accuracy <= 1 - 4 / 12
    assert bad.term_accuracy == good.term_accuracy  # the same texts, only on the wrong rows


def test_term_medians_and_classifier_by_hand():
    from lookalike.qa.text import classifier_accuracy, term_medians

    texts = pd.Series(["Luxury loft", "luxury flat", "small room", None])
    medians = term_medians(texts, pd.Series([300, 100, 40, 5]), ["luxury", "small", "castle"])
    assert medians["luxury"] == (200.0, 2) and medians["small"] == (40.0, 1)
    assert np.isnan(medians["castle"][0]) and medians["castle"][1] == 0
    labels = pd.Series(["posh", "posh", "budget", "budget"])
    terms = pd.Index(["luxury", "loft", "flat", "small", "room"], dtype=object)
    assert classifier_accuracy(texts[:3], labels[:3], pd.Series(["a luxury room?", "small"]),
                               pd.Series(["posh", "budget"]), terms) == 1.0
