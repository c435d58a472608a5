"""Related tables generate through the flat engine's own sampling (temperature, top-p and
seeds reach every table), and the model file keeps nothing that singles out a real row:
no real key, no earliest or latest real parent date."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

import lookalike
from lookalike.errors import ConfigError


def make_members(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Members with a join date spread over three years, and their visits: the first one
    a few days after joining, then in order; a visit type and a spend."""
    rng = np.random.default_rng(seed)
    joined = pd.Timestamp("2019-01-01") + pd.to_timedelta(rng.integers(0, 3 * 365, n), unit="D")
    members = pd.DataFrame({"member_id": np.arange(1, n + 1), "plan": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
                            "joined": joined.strftime("%Y-%m-%d")})
    rows = []
    for mid, day, plan in zip(members.member_id, joined, members.plan):
        day = day + pd.Timedelta(days=int(rng.integers(0, 5)))
        for _ in range(int(rng.integers(1, 6))):
            rows.append((mid, day.strftime("%Y-%m-%d"), rng.choice(["gym", "pool", "class", "sauna"]),
                         round(float(rng.lognormal(3 if plan == "a" else 4, 0.5)), 2)))
            day += pd.Timedelta(days=int(rng.integers(1, 20)))
    visits = pd.DataFrame(rows, columns=["member_id", "date", "kind", "spend"])
    visits.insert(0, "visit_id", np.arange(5000, 5000 + len(visits)))
    return members, visits


@pytest.fixture(scope="module")
def club(tmp_path_factory):
    members, visits = make_members()
    tables = [{"name": "members", "data": members, "primary_key": "member_id"},
              {"name": "visits", "data": visits, "primary_key": "visit_id",
               "foreign_keys": [{"column": "member_id", "references": "members", "context": True}]}]
    g = lookalike.train(tables=tables, max_epochs=3, seed=0, progress=False, model_size="small")
    path = g.save(tmp_path_factory.mktemp("club") / "club.lookalike")
    return members, visits, g, path


def test_temperature_reaches_every_table(club):
    _, _, g, _ = club
    plain = g.sample({"members": 400}, seed=5)
    cold = g.sample({"members": 400}, seed=5, temperature=0.5)
    # a cold sample piles onto the most likely values: the top plan gains share ...
    top_plain = plain["members"]["plan"].value_counts(normalize=True).iloc[0]
    top_cold = cold["members"]["plan"].value_counts(normalize=True).iloc[0]
    assert top_cold > top_plain + 0.05, (top_plain, top_cold)
    # ... and so does the child table, drawn through the same path: its spends crowd into
    # fewer of the plain sample's deciles
    edges = np.unique(plain["visits"]["spend"].quantile(np.linspace(0, 1, 11)).to_numpy())
    edges[0], edges[-1] = -np.inf, np.inf
    top_plain = pd.cut(plain["visits"]["spend"], edges).value_counts(normalize=True).iloc[0]
    top_cold = pd.cut(cold["visits"]["spend"], edges).value_counts(normalize=True).iloc[0]
    assert top_cold > top_plain + 0.04, (top_plain, top_cold)


def test_top_p_drops_unlikely_values(club):
    _, _, g, _ = club
    kept = g.sample({"members": 400}, seed=5, top_p=0.4)["members"]["plan"].nunique()
    assert kept < 3  # the least likely plans are cut off (real shares 0.5 / 0.3 / 0.2)


def test_same_seed_same_tables_other_seed_other_tables(club):
    _, _, g, path = club
    a, b = g.sample({"members": 200}, seed=11), lookalike.load(path).sample({"members": 200}, seed=11)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    c = g.sample({"members": 200}, seed=12)
    assert not a["visits"]["spend"].equals(c["visits"]["spend"])


def test_sampling_options_are_checked(club):
    _, _, g, _ = club
    with pytest.raises(ConfigError, match="temperature"):
        g.sample({"members": 10}, temperature=0)
    with pytest.raises(ConfigError, match="top_p"):
        g.sample({"members": 10}, top_p=1.5)


def _leaves(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _leaves(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _leaves(v)
    else:
        yield obj


def _model_file_values(path, columns: set[str]) -> tuple[set[float], str]:
    """Every number and all text that the model file keeps about ``columns``: the tables'
    layouts (meta.json) and, in each table's own model file, the encoders of those columns
    (as themselves or as a child's ``parent.`` context)."""
    with zipfile.ZipFile(path) as z:
        docs = [json.loads(z.read("meta.json"))["layouts"]]
        for name in z.namelist():
            if name.startswith("tables/"):
                encoders = json.loads(zipfile.ZipFile(z.open(name)).read("encoders.json"))
                docs += [e for e in encoders if e["name"].removeprefix("parent.") in columns]
    numbers, texts = set(), []
    for leaf in _leaves(docs):
        if isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
            numbers.add(float(leaf))
        elif isinstance(leaf, str):
            texts.append(leaf)
    return numbers, "\n".join(texts)


def test_model_file_holds_no_real_key_maximum_or_date_extreme(club):
    members, visits, g, path = club
    assert g.layouts_["visits"].anchor == "joined"  # the case this guards: first visits tied to the join date
    numbers, text = _model_file_values(path, {"member_id", "visit_id", "joined"})
    assert len(numbers) > 50  # the layouts and the join date's encoders were read
    for key in (members["member_id"].max(), visits["visit_id"].max()):
        assert float(key) not in numbers and str(key) not in text.split()
    joined = pd.to_datetime(members["joined"])
    for extreme in (joined.min(), joined.max()):
        as_numbers = {extreme.value / 1e9, extreme.value / 1e9 / 86_400, float(extreme.value)}
        assert not as_numbers & numbers, extreme
        assert extreme.strftime("%Y-%m-%d") not in text, extreme


def test_layout_is_learned_from_training_subjects_only(club):
    members, _, g, _ = club
    held = g.holdout_tables_["members"]
    assert len(held) > 0
    assert g.layouts_["members"].rows == len(members) - len(held)


def test_derived_columns_describe_every_model_frame_column(club):
    """The model frame is visible: each table's model columns are its own input columns plus
    the derived columns ``derived_columns`` lists, context ones given at generation."""
    from lookalike.relational.layout import derived_columns

    _, _, g, _ = club
    for name in g.tables:
        lay, model = g.layouts_[name], g.models_[name]
        derived = {d.name: d for d in derived_columns(lay)}
        assert set(model.columns) <= set(lay.attrs) | set(derived), name
        assert set(lay.attrs) <= set(model.columns), name
        assert {d.name for d in derived.values() if d.context} == set(lay.context), name
    kinds = {d.kind for d in derived_columns(g.layouts_["visits"])}
    assert {"gap", "parent", "position", "lag"} <= kinds
    assert [d.kind for d in derived_columns(g.layouts_["members"])] == ["count"]


def test_previous_events_mean_one_thing_in_training_and_continuation(club):
    """``prev{j}.*`` and ``__pos`` have one definition: the context a continued history gives
    each subject's next event is the training frame's row for that event (three lags here)."""
    from dataclasses import FrozenInstanceError, replace

    from lookalike.relational.frame import EventWindow, gap_values, own_values, sort_children, training_frames

    _, _, g, _ = club
    with pytest.raises(FrozenInstanceError):  # layouts are built once, then read-only
        g.layouts_["visits"].lags = 3
    layouts = {**g.layouts_, "visits": replace(g.layouts_["visits"], lags=3)}
    lay = layouts["visits"]
    frame = training_frames(layouts, g.train_tables_)[0]["visits"]
    visits = sort_children(lay, g.train_tables_["visits"])
    subject = pd.factorize(visits["member_id"])[0]
    last = np.r_[subject[1:] != subject[:-1], True]  # each subject's last event: the one to continue with
    rows = own_values(lay, visits)
    rows["__gap"] = gap_values(lay, rows[lay.order_by], subject)
    window = EventWindow(lay, rows[~last], subject[~last])
    given = window.context(subject[last], frame["__pos"].to_numpy()[last])
    assert {"prev3.kind", "prev2.__gap", "__pos"} <= set(given.columns)
    assert given["prev3.spend"].notna().any()
    pd.testing.assert_frame_equal(given, frame.loc[last, list(given.columns)].reset_index(drop=True), check_dtype=False)
