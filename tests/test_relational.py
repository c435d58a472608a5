"""Related tables: a subject table with a sequential child, a small multi-table schema,
and the errors a user meets when describing tables. Tiny frames made here, 2 epochs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lookalike
from lookalike.errors import LookalikeError
from lookalike.relational import RelationalError, RelationalGenerator
from lookalike.relational.qa import relational_metrics


def make_shop(n_users: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Users (segment, age) and their purchases: 0..8 per user, more for 'vip', dates in
    order, a channel constant per user."""
    rng = np.random.default_rng(seed)
    seg = rng.choice(["basic", "vip"], n_users, p=[0.7, 0.3])
    users = pd.DataFrame({"id": np.arange(1, n_users + 1), "segment": seg, "age": rng.integers(18, 80, n_users)})
    rows = []
    for uid, s in zip(users.id, seg):
        k = rng.poisson(4 if s == "vip" else 1.5)
        k = min(k, 8)
        day = pd.Timestamp("2020-01-01") + pd.Timedelta(days=int(rng.integers(0, 60)))
        channel = rng.choice(["web", "shop"])
        for _ in range(k):
            amt = round(float(rng.lognormal(4 if s == "vip" else 3, 0.3)), 2)
            rows.append((uid, day.strftime("%Y-%m-%d"), int(rng.integers(1, 4)), amt, channel))
            day += pd.Timedelta(days=int(rng.integers(0, 30)))
    purchases = pd.DataFrame(rows, columns=["users_id", "date", "items", "amt", "channel"])
    purchases.insert(0, "pid", np.arange(1000, 1000 + len(purchases)))
    return users, purchases


def shop_tables(users, purchases):
    return [
        {"name": "users", "data": users, "primary_key": "id"},
        {"name": "purchases", "data": purchases, "primary_key": "pid",
         "foreign_keys": [{"column": "users_id", "references": "users", "context": True}]},
    ]


@pytest.fixture(scope="module")
def shop():
    users, purchases = make_shop()
    g = lookalike.train(tables=shop_tables(users, purchases), max_epochs=3, seed=1, progress=False, model_size="small")
    return users, purchases, g


@pytest.fixture(scope="module")
def shop_sample(shop):
    return shop[2].sample({"users": 400}, seed=3)


def test_keys_are_new_unique_and_resolve(shop, shop_sample):
    users, purchases, g = shop
    syn_u, syn_p = shop_sample["users"], shop_sample["purchases"]
    assert len(syn_u) == 400 and syn_u["id"].is_unique and syn_p["pid"].is_unique
    assert not syn_u["id"].isin(users["id"]).any() and not syn_p["pid"].isin(purchases["pid"]).any()
    assert syn_p["users_id"].isin(syn_u["id"]).all()
    assert list(syn_p.columns) == list(purchases.columns)
    assert (syn_u.dtypes == users.dtypes).all()


def test_dates_in_order_within_every_subject(shop_sample):
    p = shop_sample["purchases"]
    d = pd.to_datetime(p["date"])
    assert d.notna().all()
    assert (d.groupby(p["users_id"]).diff().dropna() >= pd.Timedelta(0)).all()


def test_sequence_lengths_and_parent_dependence(shop, shop_sample):
    users, purchases, g = shop
    syn_u, syn_p = shop_sample["users"], shop_sample["purchases"]
    real_len = users["id"].map(purchases["users_id"].value_counts()).fillna(0)
    syn_len = syn_u["id"].map(syn_p["users_id"].value_counts()).fillna(0)
    assert (syn_len == 0).any()  # subjects with no events exist
    assert abs(syn_len.mean() - real_len.mean()) < 0.35 * real_len.mean()
    by_seg = syn_len.groupby(syn_u["segment"].to_numpy()).mean()
    assert by_seg["vip"] > by_seg["basic"]  # the parent's attribute conditions its history
    m = g.report(shop_sample)
    s = m["tables"]["purchases"]["synthetic"]
    assert s["sequence_lengths"] > 0.8 and s["order_violations"] == 0
    assert m["integrity"]["purchases"]["users_id.dangling"] == 0
    assert m["reused_real_keys"] == {"users": 0, "purchases": 0}


def test_constant_within_subject_is_carried(shop, shop_sample):
    assert shop[2].layouts_["users"].carried == {"purchases": ["channel"]}
    p = shop_sample["purchases"]
    assert (p.groupby("users_id")["channel"].nunique() == 1).all()


def test_same_seed_same_tables_and_save_load(shop, shop_sample, tmp_path):
    g = shop[2]
    again = g.sample({"users": 400}, seed=3)
    pd.testing.assert_frame_equal(again["purchases"], shop_sample["purchases"])
    path = g.save(tmp_path / "shop.lookalike")
    g2 = lookalike.load(path)
    assert isinstance(g2, RelationalGenerator)
    pd.testing.assert_frame_equal(g2.sample({"users": 50}, seed=5)["purchases"],
                                  g.sample({"users": 50}, seed=5)["purchases"])
    out = g2.sample({"users": 20}, seed=1, out=tmp_path / "out")
    assert (tmp_path / "out" / "purchases.csv").exists()
    db = tmp_path / "shop.sqlite"
    g2.sample({"users": 20}, seed=1, out=db)
    import sqlite3

    with sqlite3.connect(db) as con:
        n = con.execute("select count(*) from purchases").fetchone()[0]
    assert n == len(out["purchases"])


def test_outputs_are_written_whole_or_not_at_all(shop, tmp_path, monkeypatch):
    g = shop[2]
    out = tmp_path / "syn.parquet"
    tables = g.sample({"users": 30}, seed=2, out=out)
    assert sorted(p.name for p in out.iterdir()) == ["purchases.parquet", "users.parquet"]
    pd.testing.assert_frame_equal(pd.read_parquet(out / "users.parquet"), tables["users"])
    # a failure while writing the second table leaves the earlier set untouched and no debris
    from lookalike import io as lio

    real_write = lio.write_table

    def failing(df, path):
        if Path(path).name.startswith("purchases"):
            raise OSError("disk full")
        return real_write(df, path)

    monkeypatch.setattr(lio, "write_table", failing)
    with pytest.raises(OSError, match="disk full"):
        g.sample({"users": 40}, seed=3, out=out)
    assert len(pd.read_parquet(out / "users.parquet")) == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["syn.parquet"]
    with pytest.raises(OSError):
        g.sample({"users": 40}, seed=3, out=tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()


def test_duckdb_output(shop, tmp_path):
    duckdb = pytest.importorskip("duckdb")
    tables = shop[2].sample({"users": 25}, seed=4, out=tmp_path / "shop.duckdb")
    with duckdb.connect(str(tmp_path / "shop.duckdb")) as con:
        n = con.execute('select count(*) from "purchases"').fetchone()[0]
        dangling = con.execute("select count(*) from purchases p left join users u on p.users_id = u.id "
                               "where u.id is null").fetchone()[0]
    assert n == len(tables["purchases"]) and dangling == 0


def test_continuation_adds_events_after_the_history(shop):
    users, purchases, g = shop
    some = users.head(30)
    hist = purchases[purchases.users_id.isin(some.id)]
    nxt = g.sample(continue_from={"users": some, "purchases": hist}, steps=2, seed=1)["purchases"]
    assert len(nxt) == 2 * len(some)
    assert set(nxt["users_id"]) == set(some["id"])
    last = pd.to_datetime(hist.groupby("users_id")["date"].max())
    first_new = pd.to_datetime(nxt.groupby("users_id")["date"].min())
    common = last.index.intersection(first_new.index)
    assert (first_new[common] >= last[common]).all()


def test_size_errors_name_the_table(shop):
    g = shop[2]
    with pytest.raises(LookalikeError, match="'purchases' is a child of 'users'"):
        g.sample({"purchases": 10})
    with pytest.raises(LookalikeError, match="unknown table 'nope'"):
        g.sample({"nope": 10})


# --- describing tables: errors ------------------------------------------------------------

def _tiny():
    users = pd.DataFrame({"id": [1, 2, 3], "x": ["a", "b", "a"]})
    events = pd.DataFrame({"users_id": [1, 1, 2, 9], "v": [1.0, 2.0, 3.0, 4.0]})
    return users, events


def test_orphans_error_or_dropped_with_counts():
    users, events = _tiny()
    tables = [{"name": "users", "data": users, "primary_key": "id"},
              {"name": "events", "data": events, "foreign_keys": [{"column": "users_id", "references": "users",
                                                                    "context": True}]}]
    with pytest.raises(RelationalError, match=r"table 'events', column 'users_id': 1 of 4 rows .*drop_orphans"):
        lookalike.train(tables=tables, max_epochs=1, progress=False)
    g = lookalike.train(tables=tables, max_epochs=1, progress=False, drop_orphans=True)
    assert g.training_["orphans_dropped"] == {"events": 1}


@pytest.mark.parametrize("change, message", [
    (lambda t: t[1]["foreign_keys"][0].update(references="people"), "references unknown table 'people'"),
    (lambda t: t[1]["foreign_keys"][0].update(column="user"), "table 'events': foreign key column 'user' is not a column"),
    (lambda t: t[0].update(primary_key="uid"), "table 'users': primary key 'uid' is not a column"),
    (lambda t: t[0].update(data=pd.DataFrame({"id": [1, 1, 2, 3], "x": list("abcd")})),
     "table 'users', column 'id': primary key has 1 duplicate"),
    (lambda t: t[0].update(foreign_keys=[{"column": "x", "references": "events", "context": True}]), "cycle"),
    (lambda t: t[1]["foreign_keys"].append({"column": "v", "references": "users", "context": True}),
     "table 'events': 2 context foreign keys"),
])
def test_schema_errors_name_table_and_column(change, message):
    users, events = _tiny()
    events = events[events.users_id != 9].assign(pid=[10, 11, 12])
    tables = [{"name": "users", "data": users, "primary_key": "id"},
              {"name": "events", "data": events, "primary_key": "pid",
               "foreign_keys": [{"column": "users_id", "references": "users", "context": True}]}]
    change(tables)
    with pytest.raises(RelationalError, match=message):
        lookalike.train(tables=tables, max_epochs=1, progress=False)


# --- several tables, plain references, schema file and CLI -----------------------------------

def make_bank(seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    district = pd.DataFrame({"district_id": np.arange(1, 9), "region": rng.choice(["north", "south"], 8)})
    account = pd.DataFrame({"account_id": np.arange(100, 260), "district_id": rng.integers(1, 9, 160),
                            "freq": rng.choice(["monthly", "weekly"], 160)})
    client = pd.DataFrame({"client_id": np.arange(1, 201), "district_id": rng.integers(1, 9, 200),
                           "born": rng.integers(1940, 2000, 200)})
    disp = pd.DataFrame({"disposition_id": np.arange(1, 161), "account_id": account.account_id,
                         "client_id": rng.permutation(client.client_id)[:160],
                         "type": rng.choice(["OWNER", "USER"], 160, p=[0.8, 0.2])})
    card = pd.DataFrame({"card_id": np.arange(1, 41), "disposition_id": rng.choice(disp.disposition_id, 40, replace=False),
                         "kind": rng.choice(["classic", "gold"], 40)})
    return {"district": district, "account": account, "client": client, "disposition": disp, "card": card}


def test_multi_table_schema_file_and_cli(tmp_path):
    from typer.testing import CliRunner

    from lookalike.cli import app

    bank = make_bank()
    for name, df in bank.items():
        df.to_csv(tmp_path / f"{name}.csv", index=False)
    # keys proposed from the names, except that accounts and clients are owned by their district
    # (proposed, the 8-row district would be a lookup table: see test_lookup_tables_are_referenced)
    owned = {n: {"foreign_keys": [{"column": "district_id", "references": "district", "context": True}]}
             for n in ("account", "client")}
    schema = {"tables": [{"name": n, "data": f"{n}.csv", **owned.get(n, {})} for n in bank],
              "options": {"max_epochs": 2, "seed": 0, "progress": False, "model_size": "small"}}
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    runner = CliRunner()
    r = runner.invoke(app, ["train", "--config", str(tmp_path / "schema.json"), "--out", str(tmp_path / "bank.lookalike"),
                            "--report"])
    assert r.exit_code == 0, r.output
    assert "QA report written" in r.output and "0 dangling keys" in r.output
    page = (tmp_path / "bank.lookalike.report.html").read_text()
    assert "<h2>disposition</h2>" in page and "Referential integrity" in page and "src=\"http" not in page
    # the QA tables are beside the model, so a loaded model reports too
    assert (tmp_path / "bank.lookalike.qa-train.account.parquet").exists()
    r = runner.invoke(app, ["report", str(tmp_path / "bank.lookalike"), "--out", str(tmp_path / "r.html"),
                            "--json", str(tmp_path / "r.json")])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "r.json").read_text())
    r = runner.invoke(app, ["info", str(tmp_path / "bank.lookalike")])
    assert r.exit_code == 0, r.output
    about = json.loads(r.output)["tables"]
    assert about["disposition"]["belongs_to"] == "account (via account_id)"
    assert about["disposition"]["references"] == {"client_id": "client"}
    assert set(m["tables"]) == {"account", "client", "disposition", "card"}
    # every real account has exactly one disposition: so has every synthetic one (the report's own figure)
    assert m["tables"]["disposition"]["synthetic"]["sequence_lengths"] == 1.0
    r = runner.invoke(app, ["generate", str(tmp_path / "bank.lookalike"), "--out", str(tmp_path / "syn"),
                            "--size", "district=8", "--seed", "1"])
    assert r.exit_code == 0, r.output
    syn = {n: pd.read_csv(tmp_path / "syn" / f"{n}.csv") for n in bank}
    g = lookalike.load(tmp_path / "bank.lookalike")
    lay = g.layouts_
    assert lay["disposition"].parent == "account" and [r.column for r in lay["disposition"].plain_refs] == ["client_id"]
    integrity = relational_metrics(lay, bank, syn)["integrity"]
    for name, counts in integrity.items():
        assert all(v == 0 for k, v in counts.items() if k.endswith("dangling")), (name, counts)
    # plain references are matched within the shared ancestor: the client lives in the account's district
    d = syn["disposition"].merge(syn["account"], on="account_id").merge(syn["client"], on="client_id",
                                                                        suffixes=("_acc", "_cli"))
    assert (d["district_id_acc"] == d["district_id_cli"]).mean() > 0.6  # the input's own rate is ~1/8
    # a client holds at most one disposition in the input (160 dispositions, 200 clients); the output
    # has room for that too, and keeps it
    assert len(syn["disposition"]) <= len(syn["client"]), (len(syn["disposition"]), len(syn["client"]))
    assert syn["disposition"]["client_id"].is_unique


def test_lookup_tables_are_referenced_not_owned():
    """A small table behind many rows of several tables (berka's districts) is proposed as a
    plain reference: accounts and clients become subjects, sized by the user, and references
    follow each district's learned popularity."""
    bank = make_bank()
    rng = np.random.default_rng(1)
    # district 1 is popular: half of all accounts and clients
    for t in ("account", "client"):
        bank[t]["district_id"] = np.where(rng.random(len(bank[t])) < 0.5, 1, bank[t]["district_id"])
    g = lookalike.train(tables={n: {"data": df} for n, df in bank.items()}, max_epochs=30, seed=0,
                        progress=False, model_size="small")
    lay = g.layouts_
    assert lay["account"].parent is None and lay["client"].parent is None
    assert [r.references for r in lay["account"].plain_refs] == ["district"]
    assert lay["disposition"].parent == "account" and lay["card"].parent == "disposition"
    assert lay["district"].ref_counts == ["__r.account.district_id", "__r.client.district_id"]
    syn = g.sample({"account": 400, "client": 500, "district": 8}, seed=0)
    assert len(syn["account"]) == 400 and len(syn["client"]) == 500
    assert abs(len(syn["disposition"]) / 400 - 1) < 0.1  # one disposition per account in the input
    assert abs(len(syn["card"]) / len(syn["disposition"]) - 40 / 160) < 0.1
    assert syn["account"]["district_id"].isin(syn["district"]["district_id"]).all()
    # the real top district holds ~56% of the accounts; uniform matching would give ~1/8 (+ chance)
    top = syn["account"]["district_id"].value_counts(normalize=True).iloc[0]
    assert top > 0.3, top


def test_cli_generate_size_error():
    from typer.testing import CliRunner

    from lookalike.cli import app

    r = CliRunner().invoke(app, ["train", "--out", "x.lookalike"])
    assert r.exit_code == 1 and "--config" in r.output


def test_yaml_schema_file_paths_are_relative_to_it(tmp_path):
    pytest.importorskip("yaml")
    from lookalike.relational.spec import parse_tables

    (tmp_path / "schema.yaml").write_text(
        "tables:\n"
        "  - name: users\n    data: users.csv\n    primary_key: id\n"
        "  - name: purchases\n    data: purchases.csv\n    order_by: date\n"
        "    foreign_keys: [{column: users_id, references: users, context: true}]\n"
        "options: {max_training_time: 60}\n")
    specs, options = parse_tables(tmp_path / "schema.yaml")
    assert [s.name for s in specs] == ["users", "purchases"] and options == {"max_training_time": 60}
    assert specs[0].data == str(tmp_path / "users.csv") and specs[1].context_key.references == "users"


def test_train_needs_data_or_tables():
    with pytest.raises(LookalikeError, match="tables="):
        lookalike.train()


def make_players(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Players born 1900-1990 (a few unknown) and their seasons: the first at age 18-30,
    then 0-2 years apart; birth years far more spread than the age at the first season."""
    rng = np.random.default_rng(seed)
    born = pd.to_datetime("1900-01-01") + pd.to_timedelta(rng.integers(0, 90 * 365, n), unit="D")
    players = pd.DataFrame({"id": np.arange(1, n + 1), "birthDate": born.strftime("%Y-%m-%d"),
                            "hand": rng.choice(["L", "R"], n)})
    players.loc[rng.random(n) < 0.03, "birthDate"] = None
    rows = []
    for pid, b in zip(players.id, born):
        year = b.year + int(rng.integers(18, 31))
        for _ in range(int(rng.integers(1, 6))):
            rows.append((pid, year, int(rng.integers(1, 150))))
            year += int(rng.integers(0, 3))
    seasons = pd.DataFrame(rows, columns=["players_id", "year", "games"])
    return players, seasons


def test_first_event_follows_the_parents_date():
    players, seasons = make_players()
    tables = [{"name": "players", "data": players, "primary_key": "id"},
              {"name": "seasons", "data": seasons, "order_by": "year",
               "foreign_keys": [{"column": "players_id", "references": "players", "context": True}]}]
    g = lookalike.train(tables=tables, max_epochs=3, seed=0, progress=False, model_size="small")
    assert g.layouts_["seasons"].anchor == "birthDate"  # chosen: the offset is far tighter than the year
    syn = g.sample({"players": 400}, seed=1)
    born = pd.to_datetime(syn["players"].set_index("id")["birthDate"]).dt.year
    first = syn["seasons"].groupby("players_id")["year"].min()
    age = (first - born.reindex(first.index)).dropna()
    assert len(age) > 300
    assert (age >= 15).mean() >= 0.99 and (age <= 45).mean() >= 0.99
    assert pd.api.types.is_integer_dtype(syn["seasons"]["year"])


def test_parent_tables_get_a_fair_share_of_the_time_budget():
    from lookalike.relational.training import time_shares
    from lookalike.relational.frame import training_frames

    users, purchases = make_shop()
    g = lookalike.train(tables=shop_tables(users, purchases), max_epochs=1, seed=0, progress=False, model_size="small")
    frames, _ = training_frames(g.layouts_, {"users": users, "purchases": purchases})
    frames["purchases"] = pd.concat([frames["purchases"]] * 50)  # a child far bigger than its parent
    share = time_shares(g.layouts_, frames)
    assert share["users"] >= 0.2 and abs(sum(share.values()) - 1) < 1e-9


def test_sibling_tables_belong_to_the_same_synthetic_subjects():
    """players + batting + fielding: both children are generated for the same players, and
    the players' event counts keep their joint distribution (a season batted is a season fielded)."""
    players, seasons = make_players(400)
    rng = np.random.default_rng(2)
    # a third of the players mostly pitch (position P in ~85% of their seasons); pitchers hardly hit
    pitcher = seasons["players_id"].map(pd.Series(rng.random(len(players)) < 0.33, index=players["id"]))
    main = np.where(pitcher, "P", "F")
    seasons = seasons.assign(pos=np.where(rng.random(len(seasons)) < 0.85, main, np.where(pitcher, "F", "P")))
    batting = seasons.drop(columns="pos").rename(columns={"games": "hits"})
    batting["hits"] = np.where(pitcher, rng.integers(0, 15, len(batting)), rng.integers(80, 200, len(batting)))
    batting = batting[rng.random(len(batting)) < 0.9]  # most, not all, fielded seasons also batted
    fk = [{"column": "players_id", "references": "players", "context": True}]
    tables = [{"name": "players", "data": players, "primary_key": "id"},
              {"name": "fielding", "data": seasons, "order_by": "year", "foreign_keys": fk},
              {"name": "batting", "data": batting, "order_by": "year", "foreign_keys": fk}]
    g = lookalike.train(tables=tables, max_epochs=40, seed=0, progress=False, model_size="small")
    assert g.layouts_["players"].children == ["fielding", "batting"]
    syn = g.sample({"players": 500}, seed=3)
    ids = set(syn["players"]["id"])
    assert set(syn["fielding"]["players_id"]) <= ids and set(syn["batting"]["players_id"]) <= ids
    n_f = syn["players"]["id"].map(syn["fielding"]["players_id"].value_counts()).fillna(0)
    n_b = syn["players"]["id"].map(syn["batting"]["players_id"].value_counts()).fillna(0)
    real_f = players["id"].map(seasons["players_id"].value_counts()).fillna(0)
    real_b = players["id"].map(batting["players_id"].value_counts()).fillna(0)
    assert np.corrcoef(real_f, real_b)[0, 1] > 0.85
    assert np.corrcoef(n_f, n_b)[0, 1] > 0.6  # independent siblings would give ~0
    # batting is drawn knowing a summary of the player's fielding rows (most frequent position, ...)
    assert ["fielding", "pos", "mode"] in g.layouts_["batting"].sibling_context
    main_pos = syn["fielding"].groupby("players_id")["pos"].agg(lambda s: s.mode().iloc[0])
    hits = syn["batting"].groupby("players_id")["hits"].mean()
    by_pos = hits.groupby(main_pos.reindex(hits.index)).mean()
    # real: P 20, F 128; without the summary both would be ~92 (the mix). Trained models give P
    # 35-47 over training seeds 0-2 (it was < 40 at seed 0 only by chance), F 115-120
    assert by_pos["P"] < 60 < 100 < by_pos["F"], by_pos
    # every batting season of a synthetic player is in the years he plays
    born = pd.to_datetime(syn["players"].set_index("id")["birthDate"]).dt.year
    age = (syn["batting"]["year"] - born.reindex(syn["batting"]["players_id"]).to_numpy()).dropna()
    assert len(age) >= 0.9 * len(syn["batting"])  # only rows with a birth date count; 97% of players have one
    assert (age >= 15).mean() >= 0.99


def test_a_parent_value_held_by_one_subject_stays_out_of_the_child_model():
    """A child's copies of its parent's attributes are protected by how many subjects hold a
    value, not by how many events they have: one user's rare segment and extreme age, over
    40 purchases, appear in neither table's model."""
    users, purchases = make_shop(seed=4)
    users.loc[0, ["segment", "age"]] = ["founder", 99]
    days = pd.date_range("2020-01-01", periods=40, freq="3D").strftime("%Y-%m-%d")
    many = pd.DataFrame({"pid": np.arange(90_000, 90_040), "users_id": users.id[0], "date": days, "items": 2,
                         "amt": 50.0, "channel": "web"})
    purchases = purchases[purchases.users_id != users.id[0]]
    g = lookalike.train(tables=shop_tables(users, pd.concat([purchases, many], ignore_index=True)),
                        max_epochs=1, seed=1, progress=False, holdout_share=0.0)
    child = g.models_["purchases"].encoder_
    assert "parent.segment" in child.columns and "parent.age" in child.columns
    for enc in (g.models_["users"].encoder_.encoder("segment"), child.encoder("parent.segment")):
        assert "founder" not in enc.categories_
    for enc in (g.models_["users"].encoder_.encoder("age"), child.encoder("parent.age")):
        assert 99 not in (enc.points_ or []) and enc.max_ < 99
