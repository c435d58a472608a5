"""The REST API: every endpoint, over a real job runner, on a tiny table (1 epoch, small
model). One workspace is built once (dataset -> model -> outputs -> report); tests that
change state use their own data dirs or add to the workspace's history."""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

from lookalike.server import create_app  # noqa: E402

LOCAL = "http://127.0.0.1"  # the server answers only to local Host headers without a token
FAST = {"max_epochs": 1, "seed": 0, "model_size": "small"}
LONG = {"max_epochs": 10_000, "patience": 10_000, "max_training_time": 120, "seed": 0, "model_size": "small"}


def tiny_frame(n: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "city": rng.choice(["amsterdam", "berlin", "paris"], n, p=[0.6, 0.3, 0.1]),
        "score": np.round(rng.random(n), 3),
        "member": rng.random(n) < 0.4,
    })


def csv_bytes(df: pd.DataFrame) -> bytes:
    return df.to_csv(index=False).encode()


def parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf)
    return buf.getvalue()


def upload(client, content: bytes, filename: str = "people.csv", **extra):
    return client.post("/api/datasets", files={"file": (filename, content, "application/octet-stream")}, **extra)


def wait(client, job: dict, timeout: float = 60, until=lambda j: j["status"] not in ("queued", "running")) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        j = client.get(f"/api/jobs/{job['id']}").json()
        if until(j):
            return j
        time.sleep(0.1)
    raise AssertionError(f"job {job['id']} still {j['status']} after {timeout}s: {j}")


def run_job(client, path: str, body: dict | None = None) -> dict:
    r = client.post(path, json=body if body is not None else {})
    assert r.status_code == 202, r.text
    job = wait(client, r.json())
    assert job["status"] == "succeeded", job
    return job


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A data dir with a dataset, a model, a plain, a rebalanced and a seeded output, and
    a report; the app that made it is shut down again."""
    data_dir = tmp_path_factory.mktemp("server")
    ids = {}
    with TestClient(create_app(data_dir), base_url=LOCAL) as c:
        r = upload(c, csv_bytes(tiny_frame()))
        assert r.status_code == 201, r.text
        ids["dataset"] = r.json()["id"]
        ids["train_job"] = run_job(c, f"/api/datasets/{ids['dataset']}/train",
                                   {"name": "people", "options": {**FAST, "types": {"score": "exclude"}}})["id"]
        ids["model"] = c.get(f"/api/jobs/{ids['train_job']}").json()["result_id"]
        ids["output"] = run_job(c, f"/api/models/{ids['model']}/generate", {"rows": 50, "seed": 1})["result_id"]
        ids["rebalanced"] = run_job(c, f"/api/models/{ids['model']}/generate",
                                    {"rows": 200, "seed": 1, "rebalance": {"city": {"paris": 0.5}},
                                     "format": "parquet"})["result_id"]
        seed = upload(c, csv_bytes(pd.DataFrame({"city": ["berlin"] * 7})), "seed.csv").json()
        ids["seed_dataset"] = seed["id"]
        ids["seeded"] = run_job(c, f"/api/models/{ids['model']}/generate",
                                {"seed": 2, "seed_dataset_id": seed["id"]})["result_id"]
        ids["report"] = run_job(c, f"/api/outputs/{ids['rebalanced']}/report", {})["result_id"]
    return data_dir, ids


@pytest.fixture()
def client(workspace):
    with TestClient(create_app(workspace[0]), base_url=LOCAL) as c:
        yield c


# --- datasets --------------------------------------------------------------------------
def test_upload_shows_rows_detected_types_and_preview(client, workspace):
    d = client.get(f"/api/datasets/{workspace[1]['dataset']}").json()
    assert d["rows"] == 120 and d["name"] == "people.csv"
    kinds = {c["name"]: c["kind"] for c in d["columns"]}
    assert kinds == {"age": "numeric", "city": "categorical", "score": "numeric", "member": "boolean"}
    assert len(d["preview"]) == 20 and set(d["preview"][0]) == set(kinds)
    assert any(x["id"] == d["id"] for x in client.get("/api/datasets").json())
    body = client.get(f"/api/datasets/{d['id']}/download").content
    assert pd.read_csv(io.BytesIO(body)).shape == (120, 4)


def test_upload_parquet(tmp_path):
    buf = io.BytesIO()
    tiny_frame(30).to_parquet(buf)
    with TestClient(create_app(tmp_path), base_url=LOCAL) as c:
        r = upload(c, buf.getvalue(), "t.parquet")
        assert r.status_code == 201, r.text
        assert r.json()["rows"] == 30 and r.json()["file"] == "data.parquet"


@pytest.mark.parametrize("filename, content, status, words", [
    ("people.xlsx", b"a,b\n1,2\n", 415, "unsupported file type"),
    ("people.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", 415, "does not look like .csv"),
    ("people.parquet", b"a,b\n1,2\n", 415, "does not look like .parquet"),
    ("people.csv", "naïve,b\n1,2\n".encode("utf-16"), 415, ""),
    ("people.csv", b"a,b\n", 400, "has no rows"),
    ("people.parquet", parquet_bytes(pd.DataFrame({"tags": [["a", "b"], ["c"]], "n": [1, 2]})), 400, "'tags'"),
    ("people.csv", b"", 400, "empty"),
    ("../../etc/passwd.csv", b"a,b\n1,2\n", 400, "plain name"),
    (".hidden.csv", b"a,b\n1,2\n", 400, "plain name"),
])
def test_bad_uploads_are_refused_with_a_reason(tmp_path, filename, content, status, words):
    with TestClient(create_app(tmp_path), base_url=LOCAL) as c:
        r = upload(c, content, filename)
        assert r.status_code == status, r.text
        assert words in r.json()["detail"] and "Traceback" not in r.text
        assert c.get("/api/datasets").json() == []
    assert not list(tmp_path.glob("datasets/*")) and not list(tmp_path.glob("work/*"))  # nothing left behind


def test_upload_over_the_limit_gets_413(tmp_path):
    with TestClient(create_app(tmp_path, max_upload_bytes=1000), base_url=LOCAL) as c:
        r = upload(c, csv_bytes(tiny_frame(400)))
        assert r.status_code == 413 and "limit" in r.json()["detail"]
        assert c.get("/api/info").json()["max_upload_bytes"] == 1000
        assert upload(c, csv_bytes(tiny_frame(5))).status_code == 201
        # a body sent without a length is cut off while it streams in
        r = c.post("/api/datasets", content=iter([b"x" * 50_000] * 4),
                   headers={"content-type": "multipart/form-data; boundary=x"})
        assert r.status_code == 413, r.text


def test_upload_without_a_file_is_422(client):
    r = client.post("/api/datasets", data={"name": "x"})
    assert r.status_code == 422 and "file" in r.json()["detail"]


def test_delete_dataset(tmp_path):
    with TestClient(create_app(tmp_path), base_url=LOCAL) as c:
        d = upload(c, csv_bytes(tiny_frame(10))).json()
        assert c.delete(f"/api/datasets/{d['id']}").status_code == 204
        assert c.get(f"/api/datasets/{d['id']}").status_code == 404
        assert not (tmp_path / "datasets" / d["id"]).exists()
        assert c.delete(f"/api/datasets/{d['id']}").status_code == 404


# --- ids, never paths --------------------------------------------------------------------
@pytest.mark.parametrize("url", [
    "/api/datasets/..%2F..%2Fetc%2Fpasswd", "/api/datasets/../../etc/passwd", "/api/datasets/passwd",
    "/api/models/..%2F..%2Fetc%2Fpasswd/download", "/api/outputs/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd/download",
    "/api/reports/../../../etc/passwd/html", "/api/models?dataset_id=../../etc/passwd",
    "/api/outputs?model_id=..%2F..%2Fetc%2Fpasswd", "/api/jobs?target_id=/etc/passwd",
    "/static/../../../../etc/passwd", "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
])
def test_paths_in_parameters_are_rejected(client, url):
    r = client.get(url)
    assert r.status_code in (404, 422), (url, r.status_code)
    assert "root:" not in r.text


def test_paths_in_bodies_are_rejected(client, workspace):
    r = client.post(f"/api/models/{workspace[1]['model']}/generate", json={"seed_dataset_id": "../../etc/passwd"})
    assert r.status_code == 422 and "seed_dataset_id" in r.json()["detail"]


# --- training, jobs ------------------------------------------------------------------------
def test_training_made_a_model_with_the_settings(client, workspace):
    ids = workspace[1]
    job = client.get(f"/api/jobs/{ids['train_job']}").json()
    assert job["status"] == "succeeded" and job["kind"] == "train" and job["target_id"] == ids["dataset"]
    m = client.get(f"/api/models/{ids['model']}").json()
    assert m["name"] == "people" and m["dataset_id"] == ids["dataset"] and m["has_qa_data"]
    assert {c["name"]: c["kind"] for c in m["columns"]}["score"] == "exclude"
    assert m["config"]["max_epochs"] == 1 and m["training"]["epochs"] == 1
    assert [x["id"] for x in client.get(f"/api/models?dataset_id={ids['dataset']}").json()] == [ids["model"]]
    assert any(j["id"] == job["id"] for j in client.get("/api/jobs?kind=train&status=succeeded").json())


@pytest.mark.parametrize("options, words", [
    ({"max_epochs": 0}, "max_epochs"),
    ({"epochs": 3}, "unknown option 'epochs'"),
    ({"types": {"nope": "numeric"}}, "nope"),
    ({"types": {"city": "banana"}}, "types.city"),
    ({"max_training_time": -1}, "max_training_time"),
    ({"ray": True, "ray_workers": 2}, "option(s) ray, ray_workers: the web app trains on this machine, not on Ray"),
])
def test_bad_training_options_fail_at_once(client, workspace, options, words):
    r = client.post(f"/api/datasets/{workspace[1]['dataset']}/train", json={"options": options})
    assert r.status_code == 400, r.text
    assert words in r.json()["detail"]


def test_a_bad_text_model_folder_is_400_naming_the_option(client, workspace, tmp_path):
    pytest.importorskip("transformers", reason="the text-hf extra: pip install 'lookalike[text-hf]'")
    jobs = len(client.get("/api/jobs").json())
    (tmp_path / "empty").mkdir()
    for folder, why in ((tmp_path / "nope", "does not exist"), (tmp_path / "empty", "has no config.json")):
        r = client.post(f"/api/datasets/{workspace[1]['dataset']}/train",
                        json={"options": {**FAST, "text_model": str(folder)}})
        assert r.status_code == 400, r.text
        detail = r.json()["detail"]
        assert detail.startswith(f"text_model: '{folder}' {why}") and "save_pretrained" in detail  # and the fix
    assert len(client.get("/api/jobs").json()) == jobs  # refused at the door: no job


def test_text_model_with_differential_privacy_is_400_at_the_door(client, workspace, tmp_path):
    """Two options that exclude each other are refused before a job exists, naming both."""
    jobs = len(client.get("/api/jobs").json())
    r = client.post(f"/api/datasets/{workspace[1]['dataset']}/train",
                    json={"options": {**FAST, "text_model": str(tmp_path), "differential_privacy": True}})
    assert r.status_code == 400, r.text
    assert r.json()["detail"].startswith("text_model does not apply under differential_privacy")
    assert len(client.get("/api/jobs").json()) == jobs


def test_train_unknown_dataset_is_404_and_unknown_fields_422(client, workspace):
    assert client.post("/api/datasets/000000000000/train", json={}).status_code == 404
    r = client.post(f"/api/datasets/{workspace[1]['dataset']}/train", json={"epochs": 3})
    assert r.status_code == 422 and "epochs" in r.json()["detail"]


def test_cancel_a_running_training(tmp_path):
    with TestClient(create_app(tmp_path), base_url=LOCAL) as c:
        d = upload(c, csv_bytes(tiny_frame())).json()
        job = c.post(f"/api/datasets/{d['id']}/train", json={"options": LONG}).json()
        wait(c, job, until=lambda j: j["status"] == "running")
        r = c.post(f"/api/jobs/{job['id']}/cancel")
        assert r.status_code == 200
        job = wait(c, job, timeout=15)
        assert job["status"] == "cancelled" and job["error"] == "cancelled by the user"
        assert c.get("/api/models").json() == []
        assert c.post(f"/api/jobs/{job['id']}/cancel").status_code == 409
        assert not any((tmp_path / "work").iterdir())


def test_restart_mid_training_fails_the_job_and_keeps_earlier_work(workspace):
    data_dir, ids = workspace
    with TestClient(create_app(data_dir), base_url=LOCAL) as c:
        job = c.post(f"/api/datasets/{ids['dataset']}/train", json={"options": LONG}).json()
        running = wait(c, job, until=lambda j: (j["progress"] or {}).get("phase") == "training")
        assert running["progress"]["epoch"] >= 1 and running["progress"]["train_loss"] > 0
    # the server stopped mid-training (TestClient's exit is a clean shutdown)
    with TestClient(create_app(data_dir), base_url=LOCAL) as c:
        job = c.get(f"/api/jobs/{job['id']}").json()
        assert job["status"] == "failed" and "interrupted" in job["error"]
        assert c.get(f"/api/models/{ids['model']}/download").status_code == 200
        assert c.get(f"/api/outputs/{ids['output']}/download").status_code == 200
        assert c.get(f"/api/reports/{ids['report']}/html").status_code == 200
        assert len(c.get("/api/models").json()) == 1  # nothing half-trained is offered


def test_a_server_killed_mid_job_fails_it_at_the_next_start(workspace):
    from lookalike.server.store import Store

    data_dir, ids = workspace
    store = Store(data_dir / "lookalike.db")
    job = store.add_job("train", ids["dataset"], {"options": FAST})
    assert store.start_job(job["id"], "a-server-that-was-killed")
    (data_dir / "work" / job["id"]).mkdir(parents=True)  # its half-written files
    with TestClient(create_app(data_dir), base_url=LOCAL) as c:
        job = c.get(f"/api/jobs/{job['id']}").json()
        assert job["status"] == "failed" and "interrupted" in job["error"]
        assert not (data_dir / "work" / job["id"]).exists()
        assert c.get(f"/api/datasets/{ids['dataset']}").status_code == 200


UNGUARDED_SCRIPT = """
import sys, time
from pathlib import Path
with open(Path(sys.argv[1]) / "script-runs", "a") as fh:  # every run of this script, in any process
    fh.write("ran\\n")
from lookalike.server.runner import JobRunner
from lookalike.server.store import Store
from lookalike.server.tasks import Paths
paths = Paths(sys.argv[1])
store = Store(paths.db)
store.init()
runner = JobRunner(store, paths)
runner.start()
job = store.add_job("train", "000000000000", {"options": {}})  # a dataset that is not there
runner.wake()
while store.get("jobs", job["id"])["status"] in ("queued", "running"):
    time.sleep(0.05)
runner.stop()
print(store.get("jobs", job["id"])["error"])
"""


def test_jobs_never_rerun_the_servers_main_script(tmp_path):
    """A script that runs jobs without an `if __name__ == "__main__":` guard: the job's
    process runs lookalike only, not the script a second time (a second server)."""
    import subprocess
    import sys

    script = tmp_path / "serve.py"
    script.write_text(UNGUARDED_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert "dataset 000000000000 was deleted" in out.stdout, out.stdout + out.stderr  # the job ran, in lookalike
    assert (tmp_path / "script-runs").read_text() == "ran\n"


# --- models, generation, outputs ------------------------------------------------------------
def test_generated_outputs_download_as_csv_and_parquet(client, workspace):
    ids = workspace[1]
    out = client.get(f"/api/outputs/{ids['output']}").json()
    assert out["rows"] == 50 and out["params"]["seed"] == 1
    r = client.get(f"/api/outputs/{ids['output']}/download")
    assert r.status_code == 200 and 'filename="people-synthetic-50.csv"' in r.headers["content-disposition"]
    df = pd.read_csv(io.BytesIO(r.content))
    assert list(df.columns) == ["age", "city", "member"] and len(df) == 50
    pq = pd.read_parquet(io.BytesIO(client.get(f"/api/outputs/{ids['output']}/download?format=parquet").content))
    assert len(pq) == 50 and list(pq.columns) == list(df.columns)
    assert client.get(f"/api/outputs/{ids['output']}/download?format=xlsx").status_code == 422
    listed = {o["id"] for o in client.get(f"/api/outputs?model_id={ids['model']}").json()}
    assert listed == {ids["output"], ids["rebalanced"], ids["seeded"]}


def test_generation_controls_pass_through(client, workspace):
    ids = workspace[1]
    reb = pd.read_parquet(io.BytesIO(client.get(f"/api/outputs/{ids['rebalanced']}/download").content))
    assert len(reb) == 200 and abs((reb["city"] == "paris").mean() - 0.5) < 0.1
    seeded = pd.read_csv(io.BytesIO(client.get(f"/api/outputs/{ids['seeded']}/download").content))
    assert len(seeded) == 7 and (seeded["city"] == "berlin").all()


@pytest.mark.parametrize("body, status, words", [
    ({"rows": 0}, 422, "rows"),
    ({"temperature": 0}, 422, "temperature"),
    ({"format": "xlsx"}, 422, "format"),
    ({"seed_dataset_id": "000000000000"}, 404, "dataset"),
    ({"rebalance": {"city": {"paris": 2.0}}}, None, ""),
])
def test_bad_generation_requests(client, workspace, body, status, words):
    r = client.post(f"/api/models/{workspace[1]['model']}/generate", json=body)
    if status is None:  # validated by the engine: the job fails with its message
        assert r.status_code == 202
        job = wait(client, r.json())
        assert job["status"] == "failed" and "city" in job["error"] and "Traceback" not in job["error"]
    else:
        assert r.status_code == status, r.text
        assert words in r.json()["detail"]
    assert client.post("/api/models/000000000000/generate", json={}).status_code == 404


def test_model_file_download_and_upload(client, workspace):
    r = client.get(f"/api/models/{workspace[1]['model']}/download")
    assert r.status_code == 200 and r.content[:2] == b"PK"
    up = client.post("/api/models", files={"file": ("people.lookalike", r.content)})
    assert up.status_code == 201, up.text
    m = up.json()
    assert m["name"] == "people" and not m["has_qa_data"] and m["dataset_id"] is None
    out = run_job(client, f"/api/models/{m['id']}/generate", {"rows": 10, "seed": 3})["result_id"]
    assert client.get(f"/api/outputs/{out}").json()["rows"] == 10
    r = client.post(f"/api/outputs/{out}/report", json={})
    assert r.status_code == 400 and "uploaded" in r.json()["detail"]
    assert client.delete(f"/api/models/{m['id']}").status_code == 204
    assert client.get(f"/api/outputs/{out}").status_code == 404


def _zip(members: dict[str, bytes]) -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("filename, content, status", [
    ("m.lookalike", b"not a zip", 415),
    ("m.lookalike", b"PK\x03\x04 broken zip", 400),
    ("m.pkl", b"PK\x03\x04", 415),
    # a zip with the right members whose contents make no sense
    ("m.lookalike", _zip({"meta.json": b'{"format": "lookalike-model", "format_version": 1}', "config.json": b"{}",
                          "schema.json": b"{}", "encoders.json": b"{}", "weights.safetensors": b"x"}), 400),
])
def test_bad_model_uploads(client, filename, content, status):
    r = client.post("/api/models", files={"file": (filename, content)})
    assert r.status_code == status, r.text
    assert r.json()["detail"] and "Traceback" not in r.text
    assert "work/upload-" not in r.text  # the server's own paths are not shown


def test_a_truncated_or_malformed_model_upload_is_400_naming_the_file(client, workspace):
    good = client.get(f"/api/models/{workspace[1]['model']}/download").content
    import zipfile

    with zipfile.ZipFile(io.BytesIO(good)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members["meta.json"] = b'{"format": "lookalike-model", "format_version": 1}'  # no network description
    before = client.get("/api/models").json()
    for content in (good[: len(good) // 2], _zip(members)):
        r = client.post("/api/models", files={"file": ("people.lookalike", content)})
        assert r.status_code == 400, r.text
        assert "people.lookalike" in r.json()["detail"]
    assert client.get("/api/models").json() == before  # nothing was added


def test_a_related_tables_model_upload_is_stored_as_one(client, tmp_path):
    import lookalike

    users = pd.DataFrame({"id": range(1, 41), "segment": ["a", "b"] * 20})
    orders = pd.DataFrame({"oid": range(1, 81), "users_id": list(range(1, 41)) * 2, "amt": np.arange(80) % 7})
    tables = [{"name": "users", "data": users, "primary_key": "id"},
              {"name": "orders", "data": orders, "primary_key": "oid",
               "foreign_keys": [{"column": "users_id", "references": "users", "context": True}]}]
    path = lookalike.train(tables=tables, max_epochs=1, seed=0, progress=False, model_size="small").save(
        tmp_path / "shop.lookalike")
    r = client.post("/api/models", files={"file": ("shop.lookalike", path.read_bytes())})
    assert r.status_code == 201, r.text
    m = r.json()
    assert m["kind"] == "relational" and m["name"] == "shop" and not m["has_qa_data"]
    assert [(t["name"], t["parent"]) for t in m["tables"]] == [("users", None), ("orders", "users")]
    assert client.delete(f"/api/models/{m['id']}").status_code == 204


def test_delete_output(tmp_path, workspace):
    with TestClient(create_app(workspace[0]), base_url=LOCAL) as c:
        out = run_job(c, f"/api/models/{workspace[1]['model']}/generate", {"rows": 5})["result_id"]
        assert c.delete(f"/api/outputs/{out}").status_code == 204
        assert c.get(f"/api/outputs/{out}/download").status_code == 404


# --- reports ----------------------------------------------------------------------------------
def test_report_has_model_and_data_qa_for_a_rebalanced_output(client, workspace):
    ids = workspace[1]
    rep = client.get(f"/api/reports/{ids['report']}").json()
    assert rep["output_id"] == ids["rebalanced"] and rep["model_id"] == ids["model"]
    assert rep["summary"]["model_qa"] is True
    html = client.get(f"/api/reports/{ids['report']}/html")
    assert html.headers["content-type"].startswith("text/html") and "<html" in html.text[:500].lower()
    assert "attachment" in client.get(f"/api/reports/{ids['report']}/html?download=true").headers["content-disposition"]
    metrics = client.get(f"/api/reports/{ids['report']}/json").json()
    assert metrics["model"] is not None and metrics["rows"]["synthetic"] == 200
    assert rep["summary"]["accuracy"] == round(metrics["accuracy"]["overall"], 4)
    city = [{c["column"]: c["univariate"] for c in part["accuracy"]["columns"]}["city"]
            for part in (metrics, metrics["model"])]
    assert city[0] < 0.8 < city[1]  # paris 10% -> 50% on purpose in the delivered table, not in the model's sample
    top, cols = rep["summary"]["discriminator_top_column"], metrics["discriminator_columns"]
    assert top["column"] == next(iter(cols)) and top["auc"] == cols[top["column"]]  # the most telling column
    assert [r["id"] for r in client.get(f"/api/reports?output_id={ids['rebalanced']}").json()] == [ids["report"]]
    assert client.get("/api/reports?model_id=000000000000").json() == []


def test_report_with_an_unknown_target_is_400(client, workspace):
    r = client.post(f"/api/outputs/{workspace[1]['output']}/report", json={"target": "nope"})
    assert r.status_code == 400 and "nope" in r.json()["detail"]
    assert client.post("/api/outputs/000000000000/report", json={}).status_code == 404


# --- security, docs, UI ------------------------------------------------------------------------
def test_token_is_required_on_every_api_request(tmp_path):
    c = TestClient(create_app(tmp_path, token="s3cret"), base_url=LOCAL)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"X-Lookalike-Token": ""}):
        r = c.get("/api/datasets", headers=headers)
        assert r.status_code == 401 and "token" in r.json()["detail"]
    assert c.get("/docs").status_code == 401 and c.get("/openapi.json").status_code == 401
    assert upload(c, b"a\n1\n").status_code == 401
    assert c.get("/api/datasets", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert c.get("/api/datasets", headers={"X-Lookalike-Token": "s3cret"}).status_code == 200
    c.cookies.set("lookalike_token", "s3cret")
    assert c.get("/api/datasets").status_code == 200
    assert c.get("/").status_code == 200  # the UI shell, which asks for the token


def test_without_a_token_only_local_pages_may_call(client):
    assert client.get("/api/info", headers={"host": "evil.example:8000"}).status_code == 403
    # Starlette's TestClient's default host is no exception: tests talk to 127.0.0.1 like a browser
    r = client.get("/api/info", headers={"host": "testserver"})
    assert r.status_code == 403 and "localhost" in r.json()["detail"]
    r = client.post("/api/datasets", files={"file": ("a.csv", b"a\n1\n")}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403
    assert client.get("/api/info", headers={"host": "127.0.0.1:8000"}).status_code == 200


def test_binding_beyond_localhost_needs_a_token():
    from typer.testing import CliRunner

    from lookalike.cli import app
    from lookalike.errors import LookalikeError
    from lookalike.server import run

    with pytest.raises(LookalikeError, match="--token"):
        run(host="0.0.0.0", port=1)
    r = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"], env={"LOOKALIKE_TOKEN": ""})
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "--token" in r.output


def test_docs_and_ui_work_offline(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text
    assert 'src="http' not in docs.text and 'href="http' not in docs.text  # works offline: no CDN
    assert client.get("/static/docs.js").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200


def test_every_route_answers_a_real_request(workspace, tmp_path):
    """Each route of the OpenAPI description is called here, with real ids, and answers as
    documented; a route added without a call below fails this test."""
    import re
    import shutil

    data_dir = tmp_path / "server"
    shutil.copytree(workspace[0], data_dir)  # deletes and new jobs leave the shared workspace alone
    ids = workspace[1]
    with TestClient(create_app(data_dir), base_url=LOCAL) as c:
        spec = c.get("/openapi.json").json()
        routes = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
        patterns = {r: re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", r[1]) + "$") for r in routes}
        called = set()

        def call(method: str, url: str, status: int, **kwargs):
            r = c.request(method, url, **kwargs)
            assert r.status_code == status, (method, url, r.status_code, r.text[:500])
            path = url.split("?")[0]
            called.update(route for route, pattern in patterns.items() if route[0] == method and pattern.match(path))
            return r

        assert call("GET", "/api/info", 200).json()["generation_controls"]
        # datasets, and a training job that is cancelled
        d = call("POST", "/api/datasets", 201, files={"file": ("more.csv", csv_bytes(tiny_frame(40)))}).json()
        assert d["id"] in {x["id"] for x in call("GET", "/api/datasets", 200).json()}
        assert call("GET", f"/api/datasets/{d['id']}", 200).json()["rows"] == 40
        body = call("GET", f"/api/datasets/{d['id']}/download", 200).content
        assert pd.read_csv(io.BytesIO(body)).shape == (40, 4)
        job = call("POST", f"/api/datasets/{d['id']}/train", 202, json={"options": LONG}).json()
        assert job["id"] in {j["id"] for j in call("GET", "/api/jobs", 200).json()}
        wait(c, job, until=lambda j: j["status"] == "running")
        call("POST", f"/api/jobs/{job['id']}/cancel", 200)
        wait(c, job, timeout=15)
        assert call("GET", f"/api/jobs/{job['id']}", 200).json()["status"] == "cancelled"
        # models: download, upload again, generate from the upload
        assert ids["model"] in {m["id"] for m in call("GET", "/api/models", 200).json()}
        assert call("GET", f"/api/models/{ids['model']}", 200).json()["name"] == "people"
        model_file = call("GET", f"/api/models/{ids['model']}/download", 200).content
        up = call("POST", "/api/models", 201, files={"file": ("copy.lookalike", model_file)}).json()
        gen = call("POST", f"/api/models/{up['id']}/generate", 202, json={"rows": 15, "seed": 4}).json()
        out_id = wait(c, gen)["result_id"]
        # outputs, and a report on one of the trained model's outputs
        assert call("GET", f"/api/outputs/{out_id}", 200).json()["rows"] == 15
        assert out_id in {o["id"] for o in call("GET", "/api/outputs", 200).json()}
        assert len(pd.read_csv(io.BytesIO(call("GET", f"/api/outputs/{out_id}/download", 200).content))) == 15
        rep_job = wait(c, call("POST", f"/api/outputs/{ids['output']}/report", 202, json={}).json(), timeout=120)
        assert rep_job["status"] == "succeeded", rep_job
        rep = rep_job["result_id"]
        assert call("GET", f"/api/reports/{rep}", 200).json()["output_id"] == ids["output"]
        assert rep in {r["id"] for r in call("GET", "/api/reports", 200).json()}
        assert "<h2>Summary" in call("GET", f"/api/reports/{rep}/html", 200).text
        assert call("GET", f"/api/reports/{rep}/json", 200).json()["rows"]["synthetic"] == 50
        # related tables: a schema of two datasets, changed, replaced, trained (cancelled), deleted
        owners = call("POST", "/api/datasets", 201, files={"file": ("owners.csv", csv_bytes(
            pd.DataFrame({"id": range(1, 31), "city": ["a", "b", "c"] * 10})))}).json()
        pets = call("POST", "/api/datasets", 201, files={"file": ("pets.csv", csv_bytes(
            pd.DataFrame({"owners_id": [i % 30 + 1 for i in range(90)], "age": range(90)})))}).json()
        tables = [{"dataset_id": owners["id"]}, {"dataset_id": pets["id"]}]
        sch = call("POST", "/api/schemas", 201, json={"tables": tables}).json()
        assert sch["tables"][1]["foreign_keys"][0]["references"] == "owners"
        assert sch["id"] in {x["id"] for x in call("GET", "/api/schemas", 200).json()}
        assert call("GET", f"/api/schemas/{sch['id']}", 200).json()["proposed"]["owners"] == ["primary_key"]
        assert call("PATCH", f"/api/schemas/{sch['id']}", 200,
                    json={"tables": [{"name": "pets", "order_by": "age"}]}).json()["tables"][1]["order_by"] == "age"
        assert call("PUT", f"/api/schemas/{sch['id']}", 200, json={"name": "zoo", "tables": tables}).json()["name"] == "zoo"
        job = call("POST", f"/api/schemas/{sch['id']}/train", 202, json={"options": LONG}).json()
        call("POST", f"/api/jobs/{job['id']}/cancel", 200)
        assert wait(c, job, timeout=15)["status"] == "cancelled"
        call("DELETE", f"/api/schemas/{sch['id']}", 204)
        # deletes: each thing is gone afterwards
        for kind, id in (("outputs", out_id), ("models", up["id"]), ("datasets", d["id"])):
            call("DELETE", f"/api/{kind}/{id}", 204)
            assert c.get(f"/api/{kind}/{id}").status_code == 404
    assert called == routes, f"routes without a real request: {sorted(routes - called)}"
