"""Hostile files: a model file or an upload is untrusted input. Tampered, damaged or
oversized ones get a clear error (``ModelFileError``, a one-line CLI error, a 4xx) quickly,
leave nothing behind and never take the server down; a model file holds no rare real value."""

from __future__ import annotations

import gzip
import io
import json
import random
import time
import zipfile

import numpy as np
import pandas as pd
import pytest

import lookalike
from lookalike.errors import ModelFileError

FAST = {"max_epochs": 1, "seed": 0, "model_size": "small", "progress": False}
LOCAL = "http://127.0.0.1"


def tiny(n: int = 150) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "age": rng.integers(18, 90, n),
        "city": rng.choice(["amsterdam", "berlin", "paris"], n),
        "score": np.round(rng.random(n), 3),
        "when": pd.date_range("2020-01-01", periods=n, freq="D"),
    })


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("model") / "m.lookalike"
    lookalike.train(tiny(), **FAST).save(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def related_file(tmp_path_factory) -> bytes:
    users = pd.DataFrame({"id": range(1, 41), "segment": ["a", "b"] * 20})
    orders = pd.DataFrame({"oid": range(1, 81), "users_id": list(range(1, 41)) * 2, "amt": np.arange(80) % 7})
    tables = [{"name": "users", "data": users, "primary_key": "id"},
              {"name": "orders", "data": orders, "primary_key": "oid",
               "foreign_keys": [{"column": "users_id", "references": "users", "context": True}]}]
    path = tmp_path_factory.mktemp("related") / "shop.lookalike"
    lookalike.train(tables=tables, **FAST).save(path)
    return path.read_bytes()


def members(content: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        return {n: z.read(n) for n in z.namelist()}


def rezip(parts: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return buf.getvalue()


def edit_json(content: bytes, member: str, change) -> bytes:
    parts = members(content)
    doc = json.loads(parts[member])
    change(doc)
    parts[member] = json.dumps(doc).encode()
    return rezip(parts)


def set_net(key, value):
    return lambda meta: meta["model"].__setitem__(key, value(meta["model"]) if callable(value) else value)


def weights_header(change):
    def edit(content: bytes) -> bytes:
        parts = members(content)
        raw = parts["weights.safetensors"]
        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + n])
        change(header)
        text = json.dumps(header).encode().ljust(n)
        parts["weights.safetensors"] = len(text).to_bytes(8, "little") + text + raw[8 + n :]
        return rezip(parts)
    return edit


TAMPERED = {
    "a cardinality of a billion": lambda b: edit_json(b, "meta.json", set_net("cardinalities", lambda m: [10**9] + m["cardinalities"][1:])),
    "a cardinality one smaller": lambda b: edit_json(b, "meta.json", set_net("cardinalities", lambda m: [m["cardinalities"][0] - 1] + m["cardinalities"][1:])),
    "a negative cardinality": lambda b: edit_json(b, "meta.json", set_net("cardinalities", lambda m: [-3] + m["cardinalities"][1:])),
    "cardinalities as text": lambda b: edit_json(b, "meta.json", set_net("cardinalities", "many")),
    "100,000 columns": lambda b: edit_json(b, "meta.json", lambda m: m["model"].update(
        cardinalities=[5] * 100_000, column_of_sub=list(range(100_000)))),
    "columns out of order": lambda b: edit_json(b, "meta.json", set_net("column_of_sub", lambda m: m["column_of_sub"][::-1])),
    "an unknown model size": lambda b: edit_json(b, "meta.json", set_net("size", "huge")),
    "an unknown first layer": lambda b: edit_json(b, "meta.json", set_net("first_layer", "attention")),
    "no network description": lambda b: edit_json(b, "meta.json", lambda m: m.pop("model")),
    "a tensor of another shape": weights_header(lambda h: h["w2"].update(shape=[1, 2, 3])),
    "a tensor of another dtype": weights_header(lambda h: h["b1"].update(dtype="F64")),
    "weights cut short": lambda b: rezip({**members(b), "weights.safetensors": members(b)["weights.safetensors"][:5000]}),
    "an encoder of an unknown kind": lambda b: edit_json(b, "encoders.json", lambda e: e[0].update(kind="pickle")),
    "an encoder with fewer categories": lambda b: edit_json(b, "encoders.json", lambda e: e[1].update(categories_=["x"])),
    "numeric bins as text": lambda b: edit_json(b, "encoders.json", lambda e: e[0].update(edges_="abc")),
    "encoders of other columns": lambda b: edit_json(b, "encoders.json", lambda e: e[0].update(name="nope")),
    "settings that do not validate": lambda b: edit_json(b, "config.json", lambda c: c.update(max_epochs="x")),
    "a schema that is a list": lambda b: rezip({**members(b), "schema.json": b"[1, 2]"}),
    "JSON nested 100,000 deep": lambda b: rezip({**members(b), "config.json": b"[" * 100_000 + b"]" * 100_000}),
    "not JSON": lambda b: rezip({**members(b), "meta.json": b"\xff\xfe garbage"}),
}


@pytest.mark.parametrize("case", list(TAMPERED))
def test_a_tampered_model_file_raises_model_file_error_naming_the_problem(model_file, tmp_path, case):
    path = tmp_path / "bad.lookalike"
    path.write_bytes(TAMPERED[case](model_file))
    for load in (lookalike.load, lookalike.Generator.load):
        start = time.monotonic()
        with pytest.raises(ModelFileError) as err:
            load(path)
        assert time.monotonic() - start < 5
        message = str(err.value)
        assert "\n" not in message and str(path) in message and len(message) < 400


def test_the_checked_shapes_are_the_models_own():
    """The loader's idea of the tensors (checked before anything is built) is the model's."""
    from lookalike.artifact import Network, expected_shapes
    from lookalike.model import TabularModel

    for first_layer in ("dense", "prefix"):
        net = Network(cardinalities=[3, 20, 7, 4], column_of_sub=[0, 0, 2, 3], size="small", first_layer=first_layer)
        model = TabularModel(net.cardinalities, net.column_of_sub, size="small", first_layer=first_layer)
        assert expected_shapes(net) == {k: tuple(v.shape) for k, v in model.state_dict().items()}


def flips(content: bytes, rng: random.Random, at: int | None = None) -> bytes:
    b = bytearray(content)
    for _ in range(rng.choice([1, 1, 2, 8])):
        i = rng.randrange(at or len(b))
        b[i] ^= 1 << rng.randrange(8)
    return bytes(b)


def loads_cleanly(path) -> str:
    """'refused' (ModelFileError) or 'works' (it loads and generates); anything else fails."""
    try:
        g = lookalike.load(path)
    except ModelFileError as exc:
        assert "\n" not in str(exc)
        return "refused"
    g.sample(5, seed=0) if isinstance(g, lookalike.Generator) else g.sample(seed=0)
    return "works"


def test_byte_flips_in_a_model_file_are_refused_cleanly(model_file, tmp_path):
    rng = random.Random(15)
    path = tmp_path / "flipped.lookalike"
    seen = []
    for _ in range(50):  # anywhere in the zip: mostly compressed bytes, caught by the checksums
        path.write_bytes(flips(model_file, rng))
        seen.append(loads_cleanly(path))
    parts = members(model_file)
    for _ in range(50):  # inside the JSON members, re-zipped: what the checks themselves must catch
        name = rng.choice(["meta.json", "config.json", "schema.json", "encoders.json"])
        path.write_bytes(rezip({**parts, name: flips(parts[name], rng)}))
        seen.append(loads_cleanly(path))
    assert seen.count("refused") >= 80, seen


def test_a_tampered_related_tables_file_raises_model_file_error(related_file, tmp_path):
    path = tmp_path / "bad.lookalike"
    parts = members(related_file)
    meta = json.loads(parts["meta.json"])
    hostile = {
        "a table named like a path": {**meta, "layouts": {"../../escape": meta["layouts"]["users"]}},
        "parents in a cycle": {**meta, "layouts": {**meta["layouts"], "users": {**meta["layouts"]["users"],
                                                                                "parent": "orders"}}},
        "no tables": {**meta, "layouts": {}},
        "layouts as text": {**meta, "layouts": "x"},
    }
    for case, doc in hostile.items():
        path.write_bytes(rezip({**parts, "meta.json": json.dumps(doc).encode()}))
        with pytest.raises(ModelFileError):
            lookalike.load(path)
        assert not (tmp_path.parent / "escape.lookalike").exists(), case
    inner = members(parts["tables/orders.lookalike"])
    inner["meta.json"] = inner["meta.json"].replace(b'"size": "small"', b'"size": "giant"')
    path.write_bytes(rezip({**parts, "tables/orders.lookalike": rezip(inner)}))
    with pytest.raises(ModelFileError, match=r"table 'orders'.*size"):
        lookalike.load(path)
    rng = random.Random(4)
    seen = [None] * 20
    for i in range(20):
        path.write_bytes(rezip({**parts, "meta.json": flips(parts["meta.json"], rng)}))
        seen[i] = loads_cleanly(path)
    assert seen.count("refused") >= 15, seen


def test_the_cli_refuses_a_tampered_model_file_in_one_line(model_file, tmp_path):
    from typer.testing import CliRunner

    from lookalike.cli import app

    path = tmp_path / "bad.lookalike"
    path.write_bytes(TAMPERED["a cardinality of a billion"](model_file))
    result = CliRunner().invoke(app, ["generate", str(path), "--rows", "5", "--out", str(tmp_path / "o.csv")])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "cardinalities" in result.output


# --- the server -----------------------------------------------------------------------------------
pytest.importorskip("fastapi")
pytest.importorskip("httpx")


@pytest.fixture()
def server(tmp_path):
    from fastapi.testclient import TestClient

    from lookalike.server import create_app

    with TestClient(create_app(tmp_path / "data"), base_url=LOCAL) as c:
        yield c, tmp_path / "data"


def still_serving(client, data_dir) -> None:
    """After a hostile request: nothing left behind, and a normal request works."""
    assert not list(data_dir.glob("work/*")), list(data_dir.glob("work/*"))
    for kind in ("datasets", "models"):
        listed = {row["id"] for row in client.get(f"/api/{kind}").json()}
        assert {p.name for p in data_dir.glob(f"{kind}/*")} == listed, kind  # no orphan folder
    r = client.post("/api/datasets", files={"file": ("ok.csv", tiny(20).to_csv(index=False).encode())})
    assert r.status_code == 201, r.text
    assert client.delete(f"/api/datasets/{r.json()['id']}").status_code == 204


def refused(r, start: float, status: tuple[int, ...] = (400, 413, 415)) -> None:
    assert r.status_code in status, r.text
    assert time.monotonic() - start < 5, f"took {time.monotonic() - start:.1f} s"
    detail = r.json()["detail"]
    assert detail and "Traceback" not in r.text and "work/upload-" not in detail


@pytest.mark.parametrize("case", ["a cardinality of a billion", "100,000 columns", "a tensor of another shape",
                                  "an encoder with fewer categories", "JSON nested 100,000 deep"])
def test_a_tampered_model_upload_is_400(server, model_file, case):
    client, data_dir = server
    start = time.monotonic()
    r = client.post("/api/models", files={"file": ("m.lookalike", TAMPERED[case](model_file))})
    refused(r, start, (400,))
    assert "m.lookalike" in r.json()["detail"]
    still_serving(client, data_dir)


def test_byte_flipped_model_uploads_are_4xx(server, model_file):
    client, data_dir = server
    rng = random.Random(7)
    parts = members(model_file)
    statuses = []
    for i in range(20):
        content = flips(model_file, rng) if i % 2 else rezip({**parts, "meta.json": flips(parts["meta.json"], rng)})
        start = time.monotonic()
        r = client.post("/api/models", files={"file": ("m.lookalike", content)})
        if r.status_code != 201:
            refused(r, start)
        statuses.append(r.status_code)
    assert 500 not in statuses and statuses.count(201) <= 4, statuses
    for m in client.get("/api/models").json():  # the few that loaded are whole models
        assert client.delete(f"/api/models/{m['id']}").status_code == 204
    still_serving(client, data_dir)


def test_a_model_upload_over_the_decompressed_limit_is_400(tmp_path, model_file):
    from fastapi.testclient import TestClient

    from lookalike.server import create_app

    with TestClient(create_app(tmp_path, max_model_bytes=10_000), base_url=LOCAL) as c:
        r = c.post("/api/models", files={"file": ("m.lookalike", model_file)})
        refused(r, time.monotonic(), (400,))
        assert "limit" in r.json()["detail"]
        still_serving(c, tmp_path)


def test_a_related_tables_model_upload_is_stored_or_refused_without_leaving_files(server, related_file):
    """A related-tables model upload is stored whole (and listed), a tampered one is a 4xx
    that leaves no folder behind."""
    client, data_dir = server
    r = client.post("/api/models", files={"file": ("shop.lookalike", related_file)})
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == "relational"
    still_serving(client, data_dir)
    start = time.monotonic()
    with zipfile.ZipFile(io.BytesIO(related_file)) as z:
        members = {i.filename: z.read(i) for i in z.infolist()}
    meta = next(n for n in members if n.endswith("meta.json"))
    members[meta] = members[meta].replace(b'"users"', b'"../../users"', 1)  # a table name that climbs out
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    r = client.post("/api/models", files={"file": ("shop.lookalike", buf.getvalue())})
    refused(r, start, (400, 415))
    still_serving(client, data_dir)
    assert client.delete(f"/api/models/{client.get('/api/models').json()[0]['id']}").status_code == 204


def gzip_bomb(inflated_gb: int = 10) -> bytes:
    """A CSV that gzips to about 1 MB per GB: one header member, then the same rows member
    repeated (a valid multi-member gzip file)."""
    rows = gzip.compress(b"1,2\n" * 2_500_000, compresslevel=9)  # 10 MB of rows in ~10 KB
    return gzip.compress(b"a,b\n") + rows * (100 * inflated_gb)


def test_a_gzip_bomb_is_refused_quickly(server):
    client, data_dir = server
    bomb = gzip_bomb(10)
    assert len(bomb) < 11_000_000
    start = time.monotonic()
    r = client.post("/api/datasets", files={"file": ("bomb.csv.gz", bomb)})
    refused(r, start, (413,))
    assert "decompressed" in r.json()["detail"] and "max_table_bytes" in r.json()["detail"]
    still_serving(client, data_dir)


def test_upload_limits_are_settings(tmp_path):
    from fastapi.testclient import TestClient

    from lookalike.server import create_app
    from lookalike.errors import ConfigError

    wide = pd.DataFrame({f"c{i}": [1, 2] for i in range(50)})
    buf = io.BytesIO()
    wide.to_parquet(buf)
    with TestClient(create_app(tmp_path, max_columns=20, max_table_bytes=50_000), base_url=LOCAL) as c:
        for name, content in (("wide.csv", wide.to_csv(index=False).encode()), ("wide.parquet", buf.getvalue())):
            r = c.post("/api/datasets", files={"file": (name, content)})
            refused(r, time.monotonic(), (413,))
            assert "50 columns" in r.json()["detail"] and "max_columns" in r.json()["detail"]
        big = gzip.compress(b"a,b\n" + b"1,2\n" * 20_000)
        r = c.post("/api/datasets", files={"file": ("big.csv.gz", big)})
        refused(r, time.monotonic(), (413,))
        still_serving(c, tmp_path)
    with pytest.raises(ConfigError, match="max_columns"):
        create_app(tmp_path, max_columns=0)
    with pytest.raises(ConfigError, match="unknown server setting"):
        create_app(tmp_path, max_colums=10)


def test_a_table_too_big_for_the_parsing_memory_is_413(tmp_path):
    from fastapi.testclient import TestClient

    from lookalike.server import create_app

    rng = np.random.default_rng(0)
    words = np.char.add("k", rng.integers(0, 10**9, 1_200_000).astype(str))  # 40 MB of text, ~600 MB parsed
    text = pd.DataFrame({"a": words, "b": words[::-1], "c": words}).to_csv(index=False).encode()
    with TestClient(create_app(tmp_path, max_parse_memory_bytes=500_000_000), base_url=LOCAL) as c:
        start = time.monotonic()
        r = c.post("/api/datasets", files={"file": ("t.csv", text)})
        refused(r, start + 5, (413,))  # (the parse itself is allowed its time)
        assert "memory" in r.json()["detail"]
        still_serving(c, tmp_path)


@pytest.mark.parametrize("kind", ["csv", "csv.gz", "parquet"])
def test_byte_flipped_table_uploads_are_4xx_or_accepted(server, kind):
    client, data_dir = server
    df = tiny(40)
    if kind == "parquet":
        buf = io.BytesIO()
        df.to_parquet(buf)
        content = buf.getvalue()
    else:
        content = df.to_csv(index=False).encode()
        content = gzip.compress(content) if kind == "csv.gz" else content
    rng = random.Random(3)
    statuses = []
    for _ in range(10):
        start = time.monotonic()
        r = client.post("/api/datasets", files={"file": (f"t.{kind}", flips(content, rng))})
        if r.status_code != 201:
            refused(r, start)
        statuses.append(r.status_code)
    assert 500 not in statuses, statuses
    still_serving(client, data_dir)


def test_the_host_check_accepts_only_its_own_names(tmp_path):
    from fastapi.testclient import TestClient

    from lookalike.server import create_app

    def status(header: str, **settings) -> int:
        with TestClient(create_app(tmp_path, **settings), base_url=LOCAL) as c:
            return c.get("/api/info", headers={"host": header}).status_code

    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000"):
        assert status(host) == 200, host
    for host in ("testserver", "evil.example", "127.evil.example", "localhost.evil.example", "", "[::1"):
        assert status(host) == 403, host
    assert status("lab.internal:8000", allowed_hosts=["lab.internal"]) == 200
    assert status("127.0.0.2:8000", host="127.0.0.2") == 200
    assert status("192.168.1.5:8000", token=None, host="192.168.1.5") == 200
    # with a token and every address bound, the token guards; names narrow it when configured
    with TestClient(create_app(tmp_path, token="t", host="0.0.0.0"), base_url=LOCAL) as c:
        assert c.get("/api/info", headers={"host": "box.lan", "authorization": "Bearer t"}).status_code == 200
    with TestClient(create_app(tmp_path, token="t", host="0.0.0.0", allowed_hosts=["box.lan"]), base_url=LOCAL) as c:
        assert c.get("/api/info", headers={"host": "box.lan", "authorization": "Bearer t"}).status_code == 200
        assert c.get("/api/info", headers={"host": "evil.example", "authorization": "Bearer t"}).status_code == 403


# --- privacy: what the model file holds ------------------------------------------------------------
def test_the_model_file_holds_no_rare_real_value(tmp_path):
    """Rare categories (1-2 rows), an extreme maximum and the exact first and last dates
    must not be readable anywhere in the model file's bytes (JSON and weights)."""
    n = 400
    rng = np.random.default_rng(1)
    df = pd.DataFrame({
        "job": rng.choice(["clerk", "nurse", "driver", "teacher"], n).astype(object),
        "income": np.round(rng.normal(40_000, 5_000, n)).astype(int),
        "joined": pd.Timestamp("2015-03-01") + pd.to_timedelta(rng.integers(0, 3000, n), unit="D"),
    })
    df.loc[7, "job"] = "astronaut-zq"  # one row
    df.loc[[11, 12], "job"] = "lighthouse keeper-zq"  # two rows
    df.loc[20, "income"] = 987_654_321  # an extreme maximum
    df.loc[30, "joined"] = pd.Timestamp("1987-06-05")  # exact date extremes
    df.loc[31, "joined"] = pd.Timestamp("2031-10-09")
    path = tmp_path / "m.lookalike"
    lookalike.train(df, **FAST).save(path)
    raw = path.read_bytes()
    texts = [raw] + [data for data in members(raw).values()]
    secrets = {
        "rare category (1 row)": "astronaut-zq",
        "rare category (2 rows)": "lighthouse keeper-zq",
        "extreme maximum": "987654321",
        "extreme maximum (float)": "987654321.0",
        "earliest date": "1987-06-05",
        "earliest date (seconds)": str(int(pd.Timestamp("1987-06-05").timestamp())),
        "latest date": "2031-10-09",
        "latest date (seconds)": str(int(pd.Timestamp("2031-10-09").timestamp())),
    }
    for what, value in secrets.items():
        for data in texts:
            assert value.encode() not in data, f"the model file holds the {what} {value!r}"
    weights = members(raw)["weights.safetensors"]
    for number in (987_654_321, pd.Timestamp("1987-06-05").timestamp(), pd.Timestamp("2031-10-09").timestamp()):
        for packed in (np.float32(number).tobytes(), np.float64(number).tobytes()):
            assert packed not in weights, f"the weights hold {number} as raw bytes"
