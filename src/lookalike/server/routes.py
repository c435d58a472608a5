"""The REST API: thin routes over the public API (``lookalike.train``, ``load``,
``Generator.sample``, ``lookalike.report``, ``schema.infer_schema``, ``io.read_table``).

Parameters are IDs (12 hex characters), never paths; every file lives in the data dir
under a folder named by its ID. The one exception is the training option ``text_model``: a
Hugging Face model folder on the server's own machine, which training reads (never writes).
Training, generation and reports are jobs: the request returns 202 and the job at once;
poll ``GET /api/jobs/{id}``.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from .. import __version__
from . import schemas as s
from .store import new_id
from .tasks import SAMPLE_CONTROLS, model_tables
from .uploads import check_content, save_upload

GENERATION_CONTROLS = ("seed_data", *SAMPLE_CONTROLS)  # what the web app offers; the request model types them

log = logging.getLogger("lookalike.server")
router = APIRouter(prefix="/api")
Id = Annotated[str, PathParam(pattern=s.ID_PATTERN, description="12 hex characters")]
OptionalId = Annotated[str | None, Query(pattern=s.ID_PATTERN)]
Limit = Annotated[int, Query(ge=1, le=1000, description="At most this many, newest first")]
Offset = Annotated[int, Query(ge=0, description="Skip this many (paging)")]

TABLE_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq")


def _ctx(request: Request):
    return request.app.state.lookalike


def _list_filtered(request: Request, table: str, filters: dict[str, str | None], limit: int, offset: int):
    """Rows of ``table``, newest first, whose columns equal the filters that are given."""
    given = {col: val for col, val in filters.items() if val is not None}
    where = " AND ".join(f"{col} = ?" for col in given)
    return _ctx(request).store.list(table, where, tuple(given.values()), limit=limit, offset=offset)


def idle_context(request: Request, table: str, id: str, busy: str, also: list[str] = ()):
    """The app's context, once row ``id`` of ``table`` is known to exist (404 otherwise) and no
    job is queued or running on it or on the rows ``also`` (409 with ``busy`` otherwise):
    what every delete route checks first."""
    ctx = _ctx(request)
    _get(request, table, id)
    if any(ctx.store.active_jobs_for(i) for i in (id, *also)):
        raise HTTPException(409, busy)
    return ctx


RAY_OPTIONS = ("ray", "ray_workers", "ray_address")


def refuse_ray(options: dict[str, Any]) -> None:
    """Training on Ray is for the CLI and the Python API: the web app trains in its own
    worker process, on this machine (a 400 that says so, not "unknown option")."""
    given = [k for k in RAY_OPTIONS if k in options]
    if given:
        raise HTTPException(400, f"option(s) {', '.join(given)}: the web app trains on this machine, not on Ray; "
                                 "train on Ray with `lookalike train DATA --ray` (or lookalike.train(..., ray=True)) "
                                 "and upload the model file here (POST /api/models)")


def _get(request: Request, table: str, id: str) -> dict[str, Any]:
    row = _ctx(request).store.get(table, id)
    if row is None:
        raise HTTPException(404, f"{table[:-1]} {id} not found")
    return row


# --- info -------------------------------------------------------------------------------
@router.get("/info", response_model=s.Info, summary="Version, limits and what this engine supports")
async def info(request: Request):
    from ..config import ColumnType

    ctx = _ctx(request)
    return s.Info(version=__version__, max_upload_bytes=ctx.max_upload_bytes, upload_types=list(TABLE_SUFFIXES),
                  generation_controls=sorted(GENERATION_CONTROLS), column_types=list(ColumnType.__args__),
                  token_required=ctx.token_required)


# --- datasets ---------------------------------------------------------------------------
@router.post("/datasets", status_code=201, response_model=s.DatasetDetail, summary="Upload a CSV or Parquet table",
             responses={400: {"model": s.Problem}, 413: {"model": s.Problem}, 415: {"model": s.Problem}})
def upload_dataset(request: Request, file: UploadFile = File(..., description="CSV (.csv, .csv.gz, .tsv) or Parquet"),
                   name: str | None = Form(None, max_length=200)):
    ctx = _ctx(request)
    suffix = _check_upload_name(file.filename, TABLE_SUFFIXES)
    shown = Path(file.filename).name
    id = new_id()
    work = ctx.paths.work(f"upload-{id}")
    work.mkdir(parents=True)
    try:
        dest = work / f"data{suffix}"
        size = save_upload(file, dest, suffix, ctx.settings)
        check_content(dest, suffix)
        table = ctx.parsers.inspect(dest, shown, ctx.settings)  # in a process of its own, memory capped
        final = ctx.paths.dir("datasets", id)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ctx.store.insert("datasets", id=id, name=name or shown, file=dest.name, size_bytes=size,
                            rows=table["rows"], columns=table["columns"], preview=table["preview"])


@router.get("/datasets", response_model=list[s.Dataset], summary="List datasets, newest first")
async def list_datasets(request: Request, limit: Limit = 100, offset: Offset = 0):
    return _ctx(request).store.list("datasets", limit=limit, offset=offset, exclude=("preview",))


@router.get("/datasets/{id}", response_model=s.DatasetDetail, summary="A dataset with its detected columns and first rows",
            responses={404: {"model": s.Problem}})
async def get_dataset(request: Request, id: Id):
    return _get(request, "datasets", id)


@router.get("/datasets/{id}/download", summary="Download the uploaded file", response_class=FileResponse)
def download_dataset(request: Request, id: Id):
    row = _get(request, "datasets", id)
    return FileResponse(_ctx(request).paths.dataset(row), filename=row["name"])


@router.delete("/datasets/{id}", status_code=204, summary="Delete a dataset (its models stay)",
               responses={409: {"model": s.Problem}})
def delete_dataset(request: Request, id: Id):
    ctx = idle_context(request, "datasets", id, f"dataset {id} is being trained on; cancel the job first")
    ctx.store.delete("datasets", id)
    shutil.rmtree(ctx.paths.dir("datasets", id), ignore_errors=True)


@router.post("/datasets/{id}/train", status_code=202, response_model=s.Job,
             summary="Create a synthetic-data model: starts a training job",
             responses={400: {"model": s.Problem}, 404: {"model": s.Problem}})
def train(request: Request, id: Id, body: s.TrainRequest):
    from ..config import make_config

    ctx = _ctx(request)
    row = _get(request, "datasets", id)
    refuse_ray(body.options)
    options = {**body.options, "progress": False}
    config = make_config(options)  # bad options fail here, not in the job
    if config.text_model is not None:  # a folder on this machine that is not a model fails now too
        from ..text.hf import check_text_model

        check_text_model(config.text_model)
    if config.types:  # unknown columns or impossible kinds fail now too
        ctx.parsers.inspect(ctx.paths.dataset(row), row["name"], ctx.settings, types=config.types)
    job = ctx.store.add_job("train", id, {"name": body.name, "options": config.model_dump(exclude_unset=True)})
    ctx.runner.wake()
    return job


# --- jobs -------------------------------------------------------------------------------
@router.get("/jobs", response_model=list[s.Job], summary="List jobs, newest first")
async def list_jobs(request: Request, status: s.JobStatus | None = None,
                    kind: s.JobKind | None = None, target_id: OptionalId = None,
                    limit: Limit = 100, offset: Offset = 0):
    where, args = [], []
    for col, val in (("status", status), ("kind", kind), ("target_id", target_id)):
        if val is not None:
            where.append(f"{col} = ?")
            args.append(val)
    return _ctx(request).store.list("jobs", " AND ".join(where), tuple(args), limit=limit, offset=offset)


@router.get("/jobs/{id}", response_model=s.Job, summary="A job: status, live progress, result or error")
async def get_job(request: Request, id: Id):
    return _get(request, "jobs", id)


@router.post("/jobs/{id}/cancel", response_model=s.Job, summary="Cancel a queued or running job",
             responses={409: {"model": s.Problem}})
def cancel_job(request: Request, id: Id):
    ctx = _ctx(request)
    job = _get(request, "jobs", id)
    if job["status"] not in ("queued", "running"):
        raise HTTPException(409, f"job {id} has already {job['status']}")
    job = ctx.store.request_cancel(id)
    ctx.runner.wake()
    return job


# --- models -----------------------------------------------------------------------------
@router.get("/models", response_model=list[s.Model], summary="List models, newest first")
async def list_models(request: Request, dataset_id: OptionalId = None, schema_id: OptionalId = None,
                      limit: Limit = 100, offset: Offset = 0):
    return _list_filtered(request, "models", {"dataset_id": dataset_id, "schema_id": schema_id}, limit, offset)


@router.get("/models/{id}", response_model=s.Model, summary="A model: columns, options, training summary")
async def get_model(request: Request, id: Id):
    return _get(request, "models", id)


@router.get("/models/{id}/download", summary="Download the model file (.lookalike; no training rows in it)",
            response_class=FileResponse)
def download_model(request: Request, id: Id):
    row = _get(request, "models", id)
    return FileResponse(_ctx(request).paths.model(row), filename=f"{_stem(row['name'])}.lookalike",
                        media_type="application/zip")


@router.post("/models", status_code=201, response_model=s.Model, summary="Upload a model file to generate from",
             responses={400: {"model": s.Problem}, 413: {"model": s.Problem}, 415: {"model": s.Problem}})
def upload_model(request: Request, file: UploadFile = File(..., description="A .lookalike model file"),
                 name: str | None = Form(None, max_length=200)):
    import lookalike
    from ..artifact import check_model_size

    ctx = _ctx(request)
    _check_upload_name(file.filename, (".lookalike",))
    id = new_id()
    work = ctx.paths.work(f"upload-{id}")
    work.mkdir(parents=True)
    try:
        dest, shown = work / "model.lookalike", Path(file.filename).name
        save_upload(file, dest, ".lookalike", ctx.settings, table=False)
        with open(dest, "rb") as fh:
            is_zip = fh.read(4) == b"PK\x03\x04"
        if not is_zip:
            raise HTTPException(415, f"'{shown}' is not a lookalike model file (not a zip)")
        try:
            check_model_size(dest, ctx.settings.max_model_bytes)  # before anything is decompressed
            g = lookalike.load(dest, device="cpu")
        except lookalike.LookalikeError as exc:  # corrupt, tampered, foreign or too new: the message says which
            raise HTTPException(400, str(exc).replace(str(dest), shown)) from None  # no server paths shown
        except Exception as exc:  # a check the loader lacks: still the file's fault, but worth a look
            log.exception("model upload '%s' failed to load", shown)
            raise HTTPException(400, f"'{shown}' is not a valid lookalike model file ({exc.__class__.__name__}); "
                                     "upload a file written by lookalike") from None
        final = ctx.paths.dir("models", id)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(work, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    name = name or Path(file.filename).name.removesuffix(".lookalike")
    if not isinstance(g, lookalike.Generator):  # related tables
        tables = model_tables(g)
        return ctx.store.insert("models", id=id, name=name, kind="relational", dataset_id=None, job_id=None,
                                file="model.lookalike", tables=tables,
                                columns=[{"name": f"{t['name']}.{c['name']}", "kind": c["kind"]}
                                         for t in tables for c in t["columns"]],
                                training=g.training_, config=g.config_.model_dump(mode="json"), has_qa_data=0)
    return ctx.store.insert("models", id=id, name=name, dataset_id=None, job_id=None, file="model.lookalike",
                            columns=[{"name": c.name, "kind": c.kind} for c in g.schema_.columns],
                            training=g.training_, config=g.config_.model_dump(mode="json"), has_qa_data=0)


@router.delete("/models/{id}", status_code=204, summary="Delete a model with its outputs and reports",
               responses={409: {"model": s.Problem}})
def delete_model(request: Request, id: Id):
    outputs = _outputs_of(_ctx(request), id)
    ctx = idle_context(request, "models", id, f"model {id} has a job queued or running; cancel it first",
                       also=[o["id"] for o in outputs])
    for out in outputs:
        _delete_output(ctx, out["id"])
    ctx.store.delete("models", id)
    shutil.rmtree(ctx.paths.dir("models", id), ignore_errors=True)


@router.post("/models/{id}/generate", status_code=202, response_model=s.Job,
             summary="Generate synthetic rows: starts a generation job",
             responses={400: {"model": s.Problem}, 404: {"model": s.Problem}})
def generate(request: Request, id: Id, body: s.GenerateRequest):
    ctx = _ctx(request)
    model = _get(request, "models", id)
    params = body.model_dump(exclude_none=True)
    _check_generation(model, body)
    if body.seed_dataset_id:
        _get(request, "datasets", body.seed_dataset_id)
    job = ctx.store.add_job("generate", id, params)
    ctx.runner.wake()
    return job


# --- outputs (generated tables) ------------------------------------------------------------
@router.get("/outputs", response_model=list[s.Output], summary="List generated tables, newest first")
async def list_outputs(request: Request, model_id: OptionalId = None, limit: Limit = 100, offset: Offset = 0):
    where = ("model_id = ?", (model_id,)) if model_id else ("", ())
    return _ctx(request).store.list("outputs", *where, limit=limit, offset=offset)


@router.get("/outputs/{id}", response_model=s.Output, summary="A generated table")
async def get_output(request: Request, id: Id):
    return _get(request, "outputs", id)


@router.get("/outputs/{id}/download", summary="Download a generated table as CSV or Parquet (related tables: "
                                                 "a zip of CSV or Parquet files, or a SQLite file)",
            response_class=FileResponse)
def download_output(request: Request, id: Id, format: Literal["csv", "parquet"] | None = None):
    from ..io import read_table, write_table

    ctx = _ctx(request)
    row = _get(request, "outputs", id)
    path = ctx.paths.output(row)
    model = ctx.store.get("models", row["model_id"])
    stem = _stem(model["name"]) if model else "synthetic"
    if row.get("tables") is not None:  # related tables: a zip of files, or a SQLite file
        path = _tables_download(path, format)
        return FileResponse(path, filename=f"{stem}-synthetic{''.join(path.suffixes)}")
    if format is not None and not path.name.endswith(f".{format}"):
        converted = path.with_name(f"synthetic.{format}")
        if not converted.exists():  # converted once (written atomically), then served from disk
            write_table(read_table(path, "synthetic"), converted)
        path = converted
    return FileResponse(path, filename=f"{stem}-synthetic-{row['rows']}{''.join(path.suffixes)}")


@router.delete("/outputs/{id}", status_code=204, summary="Delete a generated table and its reports")
def delete_output(request: Request, id: Id):
    ctx = idle_context(request, "outputs", id, f"output {id} has a report job queued or running; cancel it first")
    _delete_output(ctx, id)


@router.post("/outputs/{id}/report", status_code=202, response_model=s.Job,
             summary="QA report of a generated table: starts a report job",
             responses={400: {"model": s.Problem}, 404: {"model": s.Problem}})
def create_report(request: Request, id: Id, body: s.ReportRequest | None = None):
    ctx = _ctx(request)
    out = _get(request, "outputs", id)
    model = _get(request, "models", out["model_id"])
    body = body or s.ReportRequest()
    if not model["has_qa_data"]:
        raise HTTPException(400, "this model was uploaded as a file: it has no real rows kept aside to score "
                                 "against, so it cannot have a QA report here")
    if model["kind"] == "relational" and body.target is not None:
        raise HTTPException(400, "target (the ML-utility section) is for one-table models; leave it out for "
                                 "related tables")
    if body.target is not None and body.target not in {c["name"] for c in model["columns"]}:
        raise HTTPException(400, f"target '{body.target}' is not a column of this model")
    job = ctx.store.add_job("report", id, body.model_dump())
    ctx.runner.wake()
    return job


# --- reports ------------------------------------------------------------------------------
@router.get("/reports", response_model=list[s.Report], summary="List QA reports, newest first")
async def list_reports(request: Request, model_id: OptionalId = None, output_id: OptionalId = None,
                       limit: Limit = 100, offset: Offset = 0):
    return _list_filtered(request, "reports", {"model_id": model_id, "output_id": output_id}, limit, offset)


@router.get("/reports/{id}", response_model=s.Report, summary="A QA report's headline figures")
async def get_report(request: Request, id: Id):
    return _get(request, "reports", id)


@router.get("/reports/{id}/html", summary="The QA report as one self-contained HTML page", response_class=FileResponse)
def report_html(request: Request, id: Id, download: bool = False):
    row = _get(request, "reports", id)
    return FileResponse(_ctx(request).paths.report(row, "html"), media_type="text/html",
                        filename=f"report-{id}.html", content_disposition_type="attachment" if download else "inline")


@router.get("/reports/{id}/json", summary="All QA metrics as JSON", response_class=FileResponse)
def report_json(request: Request, id: Id):
    row = _get(request, "reports", id)
    return FileResponse(_ctx(request).paths.report(row, "json"), media_type="application/json",
                        filename=f"report-{id}.json")


# --- helpers ------------------------------------------------------------------------------
def _check_upload_name(filename: str | None, allowed: tuple[str, ...]) -> str:
    """The client's file name only picks the format; it never becomes a path."""
    if not filename:
        raise HTTPException(400, "the upload has no file name; send it as multipart form field 'file'")
    if "/" in filename or "\\" in filename or filename.startswith(".") or "\x00" in filename:
        raise HTTPException(400, f"file name {filename!r} must be a plain name, without folders")
    lower = filename.lower()
    for suffix in sorted(allowed, key=len, reverse=True):
        if lower.endswith(suffix):
            return suffix
    raise HTTPException(415, f"'{filename}': unsupported file type; use one of {', '.join(allowed)}")


def _stem(name: str) -> str:
    keep = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name)
    for suffix in (".csv.gz", ".csv", ".tsv", ".parquet", ".pq"):
        keep = keep.removesuffix(suffix)
    return keep.strip(".-") or "lookalike"


def _check_generation(model: dict, body: s.GenerateRequest) -> None:
    """What a model of its kind can do: sizes per subject table for related tables, rows and
    the one-table controls otherwise."""
    if model["kind"] != "relational":
        if body.sizes is not None:
            raise HTTPException(400, "sizes (rows per subject table) is for related-tables models; use rows")
        if body.format == "sqlite":
            raise HTTPException(400, "format 'sqlite' is for related-tables models; use csv or parquet")
        return
    given = [f for f in ("rows", "seed_dataset_id", "impute", "rebalance", "fairness") if getattr(body, f) is not None]
    if given:
        raise HTTPException(400, f"{', '.join(given)}: not available for a related-tables model; set sizes "
                                 "(rows per subject table, e.g. {\"users\": 1000}), seed, temperature, top_p, format")
    tables = {t["name"]: t for t in model["tables"]}
    for name, n in (body.sizes or {}).items():
        if name not in tables:
            raise HTTPException(400, f"sizes: unknown table '{name}'; the model's tables are {list(tables)}")
        if tables[name]["parent"] is not None:
            raise HTTPException(400, f"sizes: table '{name}' is a child of '{tables[name]['parent']}'; its size "
                                     "follows from the model: set the size of its subject table")
        if not 1 <= n <= 100_000_000:
            raise HTTPException(400, f"sizes: table '{name}': expected 1 to 100,000,000 rows, got {n}")


def _tables_download(path: Path, format: str | None) -> Path:
    """A related-tables output as generated, or converted once to a zip of the other format."""
    from .tasks import TABLES_DIR, tables_zip

    made = "sqlite" if path.suffix == ".sqlite" else path.suffixes[-2].lstrip(".")
    if format is None or format == made:
        return path
    converted = path.with_name(f"synthetic.{format}.zip")
    if not converted.exists():
        tables_zip(path.parent / TABLES_DIR, format, converted)
    return converted


def _outputs_of(ctx, model_id: str) -> list[dict]:
    return ctx.store.list("outputs", "model_id = ?", (model_id,))


def _delete_output(ctx, output_id: str) -> None:
    for rep in ctx.store.list("reports", "output_id = ?", (output_id,)):
        ctx.store.delete("reports", rep["id"])
        shutil.rmtree(ctx.paths.dir("reports", rep["id"]), ignore_errors=True)
    ctx.store.delete("outputs", output_id)
    shutil.rmtree(ctx.paths.dir("outputs", output_id), ignore_errors=True)
