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
    with TestClient(create_app(data_dir)) as c:
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
    with TestClient(create_app(workspace[0])) as c:
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
    with TestClient(create_app(tmp_path)) as c:
        r = upload(c, buf.getvalue(), "t.parquet")
        assert r.status_code == 201, r.text
        assert r.json()["rows"] == 30 and r.json()["file"] == "data.parquet"


@pytest.mark.parametrize("filename, content, status, words", [
    ("people.xlsx", b"a,b\n1,2\n", 415, "unsupported file type"),
    ("people.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", 415, "does not look like .csv"),
    ("people.parquet", b"a,b\n1,2\n", 415, "does not look like .parquet"),
    ("people.csv", "naïve,b\n1,2\n".encode("utf-16"), 415, ""),
    ("people.csv", b"a,b\n", 400, "has no rows"),
    ("people.csv", b"", 400, "empty"),
    ("../../etc/passwd.csv", b"a,b\n1,2\n", 400, "plain name"),
    (".hidden.csv", b"a,b\n1,2\n", 400, "plain name"),
])
def test_bad_uploads_are_refused_with_a_reason(tmp_path, filename, content, status, words):
    with TestClient(create_app(tmp_path)) as c:
        r = upload(c, content, filename)
        assert r.status_code == status, r.text
        assert words in r.json()["detail"] and "Traceback" not in r.text
        assert c.get("/api/datasets").json() == []
    assert not list(tmp_path.glob("datasets/*")) and not list(tmp_path.glob("work/*"))  # nothing left behind


def test_upload_over_the_limit_gets_413(tmp_path):
    with TestClient(create_app(tmp_path, max_upload_bytes=1000)) as c:
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
    with TestClient(create_app(tmp_path)) as c:
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
])
def test_bad_training_options_fail_at_once(client, workspace, options, words):
    r = client.post(f"/api/datasets/{workspace[1]['dataset']}/train", json={"options": options})
    assert r.status_code == 400, r.text
    assert words in r.json()["detail"]


def test_train_unknown_dataset_is_404_and_unknown_fields_422(client, workspace):
    assert client.post("/api/datasets/000000000000/train", json={}).status_code == 404
    r = client.post(f"/api/datasets/{workspace[1]['dataset']}/train", json={"epochs": 3})
    assert r.status_code == 422 and "epochs" in r.json()["detail"]


def test_cancel_a_running_training(tmp_path):
    with TestClient(create_app(tmp_path)) as c:
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
    with TestClient(create_app(data_dir)) as c:
        job = c.post(f"/api/datasets/{ids['dataset']}/train", json={"options": LONG}).json()
        running = wait(c, job, until=lambda j: (j["progress"] or {}).get("phase") == "training")
        assert running["progress"]["epoch"] >= 1 and running["progress"]["train_loss"] > 0
    # the server stopped mid-training (TestClient's exit is a clean shutdown)
    with TestClient(create_app(data_dir)) as c:
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
    with TestClient(create_app(data_dir)) as c:
        job = c.get(f"/api/jobs/{job['id']}").json()
        assert job["status"] == "failed" and "interrupted" in job["error"]
        assert not (data_dir / "work" / job["id"]).exists()
        assert c.get(f"/api/datasets/{ids['dataset']}").status_code == 200


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


@pytest.mark.parametrize("filename, content, status", [
    ("m.lookalike", b"not a zip", 415),
    ("m.lookalike", b"PK\x03\x04 broken zip", 400),
    ("m.pkl", b"PK\x03\x04", 415),
])
def test_bad_model_uploads(client, filename, content, status):
    r = client.post("/api/models", files={"file": (filename, content)})
    assert r.status_code == status, r.text
    assert r.json()["detail"] and "Traceback" not in r.text


def test_delete_output(tmp_path, workspace):
    with TestClient(create_app(workspace[0])) as c:
        out = run_job(c, f"/api/models/{workspace[1]['model']}/generate", {"rows": 5})["result_id"]
        assert c.delete(f"/api/outputs/{out}").status_code == 204
        assert c.get(f"/api/outputs/{out}/download").status_code == 404


# --- reports ----------------------------------------------------------------------------------
def test_report_has_model_and_data_qa_for_a_rebalanced_output(client, workspace):
    ids = workspace[1]
    rep = client.get(f"/api/reports/{ids['report']}").json()
    assert rep["output_id"] == ids["rebalanced"] and rep["model_id"] == ids["model"]
    assert 0 < rep["summary"]["accuracy"] <= 1 and rep["summary"]["model_qa"] is True
    html = client.get(f"/api/reports/{ids['report']}/html")
    assert html.headers["content-type"].startswith("text/html") and "<html" in html.text[:500].lower()
    assert "attachment" in client.get(f"/api/reports/{ids['report']}/html?download=true").headers["content-disposition"]
    metrics = client.get(f"/api/reports/{ids['report']}/json").json()
    assert metrics["model"] is not None and metrics["rows"]["synthetic"] == 200
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
    c = TestClient(create_app(tmp_path, token="s3cret"))
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


def test_docs_ui_and_every_route_is_tested(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/static/docs.js" in docs.text
    assert 'src="http' not in docs.text and 'href="http' not in docs.text  # works offline: no CDN
    assert client.get("/static/docs.js").status_code == 200
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert client.get("/static/app.js").status_code == 200 and client.get("/static/style.css").status_code == 200
    assert client.get("/api/info").json()["generation_controls"]
    spec = client.get("/openapi.json").json()
    routes = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    tested = set()
    for line in open(__file__):
        for m in ("get", "post", "delete"):
            marker = f'.{m}("/api/' if f'.{m}("/api/' in line else f'.{m}(f"/api/'
            if marker in line:
                tested.add((m.upper(), line.split(marker)[1].split('"')[0].split("?")[0]))
    import re

    normalise = lambda p: re.sub(r"\{[^}]+\}", "{id}", "/api/" + p if not p.startswith("/") else p)  # noqa: E731
    missing = {r for r in routes if (r[0], normalise(r[1])) not in {(m, normalise(p)) for m, p in tested}}
    assert not missing, f"routes without a test: {sorted(missing)}"
