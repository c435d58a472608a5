"""REST routes for related tables: a *schema* links uploaded datasets by keys.

    POST /api/schemas {"tables": [{"dataset_id": ...}, {"dataset_id": ...}]}  -> keys proposed
    PATCH /api/schemas/{id} {"tables": [{"name": "purchases", "order_by": "date"}]}
    POST /api/schemas/{id}/train {"options": {"max_training_time": 60}}      -> a job; its model
                                                                                 is a related-tables model

Keys are proposed and validated by the engine (``relational.spec``: ``propose_keys``,
``validate``) in a memory-capped child process, never here; a bad schema is a 4xx naming
the table and column. Generation, download and reports of the trained model go through
the model, output and report routes like a one-table model's.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from . import schemas as s
from .routes import Id, Limit, Offset, _ctx, _get, _stem, idle_context, refuse_ray
from .store import new_id

router = APIRouter(prefix="/api")
TABLE_FIELDS = ("primary_key", "foreign_keys", "order_by", "types")


@router.post("/schemas", status_code=201, response_model=s.Schema,
             summary="Link uploaded datasets as related tables: keys left out are proposed",
             responses={400: {"model": s.Problem}, 404: {"model": s.Problem}})
def create_schema(request: Request, body: s.SchemaRequest):
    ctx = _ctx(request)
    checked = _check(ctx, [t.model_dump() for t in body.tables], body.drop_orphans)
    now = time.time()
    return ctx.store.insert("schemas", id=new_id(), name=body.name or " + ".join(t["name"] for t in checked["tables"]),
                            drop_orphans=int(body.drop_orphans), created_at=now, updated_at=now, **checked)


@router.get("/schemas", response_model=list[s.Schema], summary="List related-tables schemas, newest first")
async def list_schemas(request: Request, limit: Limit = 100, offset: Offset = 0):
    return _ctx(request).store.list("schemas", limit=limit, offset=offset)


@router.get("/schemas/{id}", response_model=s.Schema, summary="A schema: its tables, keys and what was proposed",
            responses={404: {"model": s.Problem}})
async def get_schema(request: Request, id: Id):
    return _get(request, "schemas", id)


@router.put("/schemas/{id}", response_model=s.Schema, summary="Replace a schema's tables and keys",
            responses={400: {"model": s.Problem}, 404: {"model": s.Problem}})
def replace_schema(request: Request, id: Id, body: s.SchemaRequest):
    ctx = _ctx(request)
    row = _get(request, "schemas", id)
    checked = _check(ctx, [t.model_dump() for t in body.tables], body.drop_orphans)
    return ctx.store.update("schemas", id, name=body.name or row["name"], drop_orphans=int(body.drop_orphans),
                            updated_at=time.time(), **checked)


@router.patch("/schemas/{id}", response_model=s.Schema,
              summary="Change keys, context flags or order_by of some tables (null: propose again)",
              responses={400: {"model": s.Problem}, 404: {"model": s.Problem}})
def change_schema(request: Request, id: Id, body: s.SchemaPatch):
    ctx = _ctx(request)
    row = _get(request, "schemas", id)
    tables = {t["name"]: {k: t[k] for k in ("dataset_id", "name", *TABLE_FIELDS)} for t in row["tables"]}
    changed: dict[str, set[str]] = {}
    for patch in body.tables:
        if patch.name not in tables:
            raise HTTPException(400, f"table '{patch.name}' is not in schema {id}; its tables are {list(tables)}")
        fields = patch.model_fields_set - {"name"}
        values = patch.model_dump(include=fields)
        if "types" in values and values["types"] is None:
            values["types"] = {}
        tables[patch.name].update(values)
        changed.setdefault(patch.name, set()).update(fields)
    drop = row["drop_orphans"] if body.drop_orphans is None else body.drop_orphans
    checked = _check(ctx, list(tables.values()), bool(drop))
    for name, fields in checked["proposed"].items():  # what was proposed before and is left as it was stays marked
        kept = [f for f in row["proposed"].get(name, []) if f not in changed.get(name, set()) and f not in fields]
        fields.extend(kept)
    return ctx.store.update("schemas", id, name=body.name or row["name"], drop_orphans=int(drop),
                            updated_at=time.time(), **checked)


@router.delete("/schemas/{id}", status_code=204, summary="Delete a schema (its datasets and models stay)",
               responses={409: {"model": s.Problem}})
def delete_schema(request: Request, id: Id):
    ctx = idle_context(request, "schemas", id, f"schema {id} is being trained on; cancel the job first")
    ctx.store.delete("schemas", id)


@router.post("/schemas/{id}/train", status_code=202, response_model=s.Job,
             summary="Train a related-tables model: starts a training job (progress per table)",
             responses={400: {"model": s.Problem}, 404: {"model": s.Problem}})
def train_schema(request: Request, id: Id, body: s.TrainRequest):
    """Options are ``lookalike.train(tables=...)``'s: ``max_training_time`` (for all tables
    together), ``seed``, ``holdout_share``, ``lags``, and every table's flat options."""
    from ..relational.config import split_options

    ctx = _ctx(request)
    row = _get(request, "schemas", id)
    refuse_ray(body.options)
    options = {**body.options, "progress": False}
    if row["drop_orphans"]:
        options.setdefault("drop_orphans", True)
    split_options(options)  # bad options fail here, not in the job
    for t in row["tables"]:
        if ctx.store.get("datasets", t["dataset_id"]) is None:
            raise HTTPException(400, f"table '{t['name']}': dataset {t['dataset_id']} was deleted; upload it again "
                                     "and update the schema")
    tables = [{k: t[k] for k in ("dataset_id", "name", *TABLE_FIELDS)} for t in row["tables"]]
    job = ctx.store.add_job("train_tables", id, {"name": body.name, "schema_name": row["name"], "options": options,
                                                 "tables": tables})
    ctx.runner.wake()
    return job


def _check(ctx, tables: list[dict[str, Any]], drop_orphans: bool) -> dict[str, Any]:
    """The engine's proposals and validation of ``tables`` (each with a ``dataset_id``):
    {"tables", "proposed", "orphans"} as stored; 404 for an unknown dataset, 400 naming the
    table and column for a bad key."""
    specs, ids = [], []
    for i, t in enumerate(tables):
        dataset = ctx.store.get("datasets", t["dataset_id"])
        name = t.get("name") or (_stem(dataset["name"]) if dataset else f"#{i + 1}")
        if dataset is None:
            raise HTTPException(404, f"table '{name}': dataset {t['dataset_id']} not found; upload it first "
                                     "(POST /api/datasets)")
        specs.append({"name": name, **{k: t.get(k) for k in TABLE_FIELDS}, "types": t.get("types") or {},
                      "path": str(ctx.paths.dataset(dataset)), "shown": dataset["name"]})
        ids.append(dataset["id"])
    checked = ctx.parsers.check_tables(specs, ctx.settings, drop_orphans)
    checked["tables"] = [{"dataset_id": d, **t} for d, t in zip(ids, checked["tables"])]
    return checked
