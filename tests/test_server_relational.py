"""Related tables through the REST API, over a real job runner: a sample of cdnow (300
users and their purchases) uploaded as two datasets, linked in a schema (keys proposed by
the engine), trained briefly, generated, downloaded as a zip and reported on."""

from __future__ import annotations

import io
import zipfile

import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from lookalike.server import create_app  # noqa: E402

from conftest import shared_file  # noqa: E402
from test_server import LOCAL, csv_bytes, run_job, upload, wait  # noqa: E402

FAST = {"max_epochs": 2, "seed": 0, "model_size": "small"}


def cdnow_sample(n_users: int = 300) -> tuple[pd.DataFrame, pd.DataFrame]:
    users = pd.read_csv(shared_file("cdnow", "users.csv.gz")).head(n_users)
    purchases = pd.read_csv(shared_file("cdnow", "purchases.csv.gz"))
    return users, purchases[purchases["users_id"].isin(users["id"])].reset_index(drop=True)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    """A data dir with the two datasets, a schema with proposed keys, a trained model, a
    generated zip of CSVs and its report."""
    users, purchases = cdnow_sample()
    data_dir = tmp_path_factory.mktemp("related")
    ids = {}
    with TestClient(create_app(data_dir), base_url=LOCAL) as c:
        ids["users"] = upload(c, csv_bytes(users), "users.csv").json()["id"]
        ids["purchases"] = upload(c, csv_bytes(purchases), "purchases.csv").json()["id"]
        r = c.post("/api/schemas", json={"tables": [{"dataset_id": ids["users"]}, {"dataset_id": ids["purchases"]}]})
        assert r.status_code == 201, r.text
        ids["schema"] = r.json()["id"]
        job = run_job(c, f"/api/schemas/{ids['schema']}/train", {"name": "cdnow", "options": FAST})
        ids["train_job"], ids["model"] = job["id"], job["result_id"]
        ids["output"] = run_job(c, f"/api/models/{ids['model']}/generate",
                                {"sizes": {"users": 120}, "seed": 1})["result_id"]
        ids["report"] = run_job(c, f"/api/outputs/{ids['output']}/report", {})["result_id"]
    return data_dir, ids, users, purchases


@pytest.fixture()
def client(shop):
    with TestClient(create_app(shop[0]), base_url=LOCAL) as c:
        yield c


def test_a_schema_of_two_datasets_gets_the_obvious_keys_proposed(client, shop):
    schema = client.get(f"/api/schemas/{shop[1]['schema']}").json()
    tables = {t["name"]: t for t in schema["tables"]}
    assert list(tables) == ["users", "purchases"] and schema["name"] == "users + purchases"
    assert tables["users"]["primary_key"] == "id" and tables["users"]["rows"] == 300
    assert tables["purchases"]["foreign_keys"] == [{"column": "users_id", "references": "users", "context": True}]
    assert tables["purchases"]["columns"] == ["users_id", "date", "cds", "amt"]
    assert schema["proposed"] == {"users": ["primary_key"], "purchases": ["foreign_keys"]}
    assert schema["id"] in {x["id"] for x in client.get("/api/schemas").json()}


def test_training_reports_progress_per_table_and_makes_a_related_tables_model(client, shop):
    job = client.get(f"/api/jobs/{shop[1]['train_job']}").json()
    assert job["kind"] == "train_tables" and job["target_id"] == shop[1]["schema"]
    states = job["progress"]["tables"]
    assert set(states) == {"users", "purchases"}
    assert all(s["state"] == "done" and s["epochs"] == 2 for s in states.values()), states
    m = client.get(f"/api/models/{shop[1]['model']}").json()
    assert m["kind"] == "relational" and m["name"] == "cdnow" and m["schema_id"] == shop[1]["schema"]
    tables = {t["name"]: t for t in m["tables"]}
    assert tables["purchases"]["parent"] == "users" and tables["purchases"]["parent_fk"] == "users_id"
    assert tables["users"]["parent"] is None and tables["purchases"]["order_by"] == "date"
    assert shop[1]["model"] in {x["id"] for x in client.get(f"/api/models?schema_id={shop[1]['schema']}").json()}


def test_the_zip_holds_both_tables_with_keys_that_resolve_and_dates_in_order(client, shop):
    out = client.get(f"/api/outputs/{shop[1]['output']}").json()
    r = client.get(f"/api/outputs/{shop[1]['output']}/download")
    assert r.status_code == 200 and "cdnow-synthetic.csv.zip" in r.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert sorted(z.namelist()) == ["purchases.csv", "users.csv"]
        users, purchases = (pd.read_csv(z.open(f"{n}.csv")) for n in ("users", "purchases"))
    assert len(users) == 120 and users["id"].is_unique
    assert out["tables"] == {"users": 120, "purchases": len(purchases)} and out["rows"] == 120 + len(purchases)
    assert len(purchases) > 120 and list(purchases.columns) == ["users_id", "date", "cds", "amt"]
    assert purchases["users_id"].isin(users["id"]).all()  # every purchase belongs to a generated user
    dates = pd.to_datetime(purchases["date"])
    assert (dates.groupby(purchases["users_id"]).diff().dropna() >= pd.Timedelta(0)).all()  # in order per user
    # the same tables as Parquet files, converted once on request
    r = client.get(f"/api/outputs/{shop[1]['output']}/download?format=parquet")
    with zipfile.ZipFile(io.BytesIO(r.content)) as z:
        assert sorted(z.namelist()) == ["purchases.parquet", "users.parquet"]
        assert pd.read_parquet(io.BytesIO(z.read("purchases.parquet")))["users_id"].tolist() == \
            purchases["users_id"].tolist()


def test_sqlite_output_has_the_tables_and_the_foreign_key(client, shop, tmp_path):
    import sqlite3

    out = run_job(client, f"/api/models/{shop[1]['model']}/generate",
                  {"sizes": {"users": 40}, "seed": 2, "format": "sqlite"})["result_id"]
    r = client.get(f"/api/outputs/{out}/download")
    assert r.status_code == 200 and r.headers["content-disposition"].endswith('.sqlite"')
    (tmp_path / "shop.sqlite").write_bytes(r.content)
    with sqlite3.connect(tmp_path / "shop.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 40
        fks = db.execute("PRAGMA foreign_key_list(purchases)").fetchall()
        assert [(f[2], f[3], f[4]) for f in fks] == [("users", "users_id", "id")]
        orphans = "SELECT COUNT(*) FROM purchases WHERE users_id NOT IN (SELECT id FROM users)"
        assert db.execute(orphans).fetchone()[0] == 0


def test_the_report_has_the_related_tables_sections(client, shop):
    rep = client.get(f"/api/reports/{shop[1]['report']}").json()
    assert rep["summary"]["kind"] == "relational" and rep["summary"]["key_problems"] == 0
    assert 0 < rep["summary"]["tables"]["purchases"]["synthetic"]["sequence_lengths"] <= 1
    html = client.get(f"/api/reports/{shop[1]['report']}/html").text
    assert "Related-tables QA: users, purchases" in html
    for section in ("<h2>purchases</h2>", "Events per subject", "Weakest column pairs", "Referential integrity",
                    "Every key is unique and new, and every foreign key resolves."):
        assert section in html, section
    assert client.get(f"/api/reports/{shop[1]['report']}/json").json()["integrity"]["users"]["rows"] == 120


def test_changing_keys_order_and_context(client, shop):
    ids = shop[1]
    r = client.patch(f"/api/schemas/{ids['schema']}", json={"tables": [{"name": "purchases", "order_by": "amt"}]})
    assert r.status_code == 200, r.text
    t = {x["name"]: x for x in r.json()["tables"]}
    assert t["purchases"]["order_by"] == "amt" and t["users"]["primary_key"] == "id"
    assert r.json()["proposed"] == {"users": ["primary_key"], "purchases": ["foreign_keys"]}  # untouched: still marked
    fks = [{"column": "users_id", "references": "users", "context": False}]
    r = client.patch(f"/api/schemas/{ids['schema']}", json={"tables": [{"name": "purchases", "foreign_keys": fks}]})
    assert r.json()["tables"][1]["foreign_keys"] == fks and r.json()["proposed"]["purchases"] == []
    # null asks for the proposal again; PUT replaces the whole schema
    r = client.patch(f"/api/schemas/{ids['schema']}", json={"tables": [{"name": "purchases", "foreign_keys": None,
                                                                        "order_by": None}]})
    assert r.json()["tables"][1]["foreign_keys"][0]["context"] is True and r.json()["tables"][1]["order_by"] is None
    r = client.put(f"/api/schemas/{ids['schema']}", json={"name": "shop", "tables": [
        {"dataset_id": ids["users"], "name": "customers", "primary_key": "id"},
        {"dataset_id": ids["purchases"], "foreign_keys": [{"column": "users_id", "references": "customers",
                                                          "context": True}]}]})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "shop" and [x["name"] for x in r.json()["tables"]] == ["customers", "purchases"]
    assert r.json()["proposed"] == {"customers": [], "purchases": []}
    assert r.json()["updated_at"] > r.json()["created_at"]


@pytest.mark.parametrize("changes, status, words", [
    ({"users": {"dataset_id": "000000000000"}}, 404, ["table 'users'", "000000000000 not found"]),
    ({"users": {"primary_key": "uid"}}, 400, ["table 'users'", "primary key 'uid'"]),
    ({"purchases": {"foreign_keys": [{"column": "user", "references": "users", "context": True}]}},
     400, ["table 'purchases'", "'user'"]),
    ({"purchases": {"foreign_keys": [{"column": "users_id", "references": "shops"}]}},
     400, ["table 'purchases'", "column 'users_id'", "unknown table 'shops'"]),
    ({"purchases": {"primary_key": "users_id"}}, 400, ["table 'purchases'", "column 'users_id'", "duplicate"]),
    ({"purchases": {"order_by": "when"}}, 400, ["table 'purchases'", "order_by 'when'"]),
    ({"purchases": {"name": "users"}}, 400, ["users", "more than once"]),
])
def test_bad_schemas_are_4xx_naming_table_and_column(client, shop, changes, status, words):
    body = [{"dataset_id": shop[1][n], "name": n, **changes.get(n, {})} for n in ("users", "purchases")]
    before = client.get("/api/schemas").json()
    r = client.post("/api/schemas", json={"tables": body})
    assert r.status_code == status, r.text
    for w in words:
        assert w in r.json()["detail"], (w, r.json()["detail"])
    assert "/datasets/" not in r.json()["detail"]  # the server's paths are not shown
    assert client.get("/api/schemas").json() == before  # nothing stored


def test_a_cycle_of_keys_is_400_naming_it(tmp_path):
    shops = pd.DataFrame({"id": [1, 2, 3], "owners_id": [1, 2, 3]})
    owners = pd.DataFrame({"id": [1, 2, 3], "shops_id": [3, 1, 2]})
    with TestClient(create_app(tmp_path), base_url=LOCAL) as c:
        tables = [{"dataset_id": upload(c, csv_bytes(df), f"{n}.csv").json()["id"]}
                  for n, df in (("shops", shops), ("owners", owners))]
        r = c.post("/api/schemas", json={"tables": tables})
        assert r.status_code == 400, r.text
        assert "cycle: shops -> owners -> shops" in r.json()["detail"]


def test_orphaned_purchases_are_refused_unless_dropped(client, shop, tmp_path):
    users, purchases = shop[2], shop[3]
    lonely = upload(client, csv_bytes(users.head(200)), "users.csv").json()["id"]
    tables = [{"dataset_id": lonely}, {"dataset_id": shop[1]["purchases"]}]
    r = client.post("/api/schemas", json={"tables": tables})
    assert r.status_code == 400 and "table 'purchases', column 'users_id'" in r.json()["detail"]
    r = client.post("/api/schemas", json={"tables": tables, "drop_orphans": True})
    assert r.status_code == 201, r.text
    assert r.json()["orphans"] == {"purchases": int((~purchases["users_id"].isin(users["id"].head(200))).sum())}


def test_bad_requests_on_a_related_tables_model(client, shop):
    m = shop[1]["model"]
    for body, words in (({"rows": 10}, "rows: not available"), ({"sizes": {"purchases": 5}}, "child of 'users'"),
                        ({"sizes": {"shops": 5}}, "unknown table 'shops'"), ({"sizes": {"users": 0}}, "users")):
        r = client.post(f"/api/models/{m}/generate", json=body)
        assert r.status_code == 400 and words in r.json()["detail"], r.text
    r = client.post(f"/api/outputs/{shop[1]['output']}/report", json={"target": "amt"})
    assert r.status_code == 400 and "one-table" in r.json()["detail"]
    r = client.post(f"/api/schemas/{shop[1]['schema']}/train", json={"options": {"differential_privacy": True}})
    assert r.status_code == 400 and "differential_privacy" in r.json()["detail"]
    r = client.post(f"/api/schemas/{shop[1]['schema']}/train", json={"options": {"types": {"amt": "numeric"}}})
    assert r.status_code == 400 and "per table" in r.json()["detail"]
    r = client.post(f"/api/schemas/{shop[1]['schema']}/train", json={"options": {"ray": True}})
    assert r.status_code == 400 and "not on Ray" in r.json()["detail"]
    r = client.patch(f"/api/schemas/{shop[1]['schema']}", json={"tables": [{"name": "shops", "order_by": "x"}]})
    assert r.status_code == 400 and "table 'shops'" in r.json()["detail"]


def test_an_uploaded_related_tables_model_generates_but_has_no_report(client, shop):
    model_file = client.get(f"/api/models/{shop[1]['model']}/download").content
    up = client.post("/api/models", files={"file": ("shop.lookalike", model_file)})
    assert up.status_code == 201, up.text
    m = up.json()
    assert m["kind"] == "relational" and not m["has_qa_data"] and [t["name"] for t in m["tables"]] == ["users",
                                                                                                      "purchases"]
    out = run_job(client, f"/api/models/{m['id']}/generate", {"sizes": {"users": 15}, "seed": 3})["result_id"]
    assert client.get(f"/api/outputs/{out}").json()["tables"]["users"] == 15
    r = client.post(f"/api/outputs/{out}/report", json={})
    assert r.status_code == 400 and "uploaded" in r.json()["detail"]
    assert client.delete(f"/api/models/{m['id']}").status_code == 204


def test_cancel_a_related_tables_training(tmp_path, shop):
    users, purchases = shop[2], shop[3]
    with TestClient(create_app(tmp_path), base_url=LOCAL) as c:
        tables = [{"dataset_id": upload(c, csv_bytes(df), f"{n}.csv").json()["id"]}
                  for n, df in (("users", users), ("purchases", purchases))]
        schema = c.post("/api/schemas", json={"tables": tables}).json()
        r = c.post(f"/api/schemas/{schema['id']}/train", json={"options": {"max_training_time": 300, "seed": 0}})
        job = wait(c, r.json(), until=lambda j: (j["progress"] or {}).get("table") is not None)
        assert c.delete(f"/api/schemas/{schema['id']}").status_code == 409  # in use
        c.post(f"/api/jobs/{job['id']}/cancel")
        assert wait(c, job, timeout=20)["status"] == "cancelled"
        assert c.get(f"/api/models?schema_id={schema['id']}").json() == []
        assert c.delete(f"/api/schemas/{schema['id']}").status_code == 204
        assert c.get(f"/api/schemas/{schema['id']}").status_code == 404
