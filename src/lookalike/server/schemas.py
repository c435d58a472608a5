"""Typed request and response bodies of the REST API (they make the OpenAPI docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[0-9a-f]{12}$"
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
JobKind = Literal["train", "train_tables", "generate", "report"]


class Problem(BaseModel):
    detail: str = Field(description="What went wrong and how to fix it.")


class Column(BaseModel):
    name: str
    kind: str = Field(description="Detected kind: numeric, categorical, datetime, boolean, key, text, constant, empty")
    dtype: str | None = None
    null_share: float | None = None
    n_unique: int | None = None


class Dataset(BaseModel):
    id: str
    name: str
    file: str
    size_bytes: int
    rows: int
    columns: list[Column]
    created_at: float


class DatasetDetail(Dataset):
    preview: list[dict[str, Any]] = Field(description="The first rows, values as JSON (NaN as null)")


class ForeignKey(BaseModel):
    """``column`` of this table holds primary keys of table ``references``; ``context``: the
    referenced table owns this table's rows (a user's purchases), at most one per table."""

    model_config = ConfigDict(extra="forbid")
    column: str = Field(max_length=500)
    references: str = Field(max_length=100, description="The referenced table's name")
    context: bool = False


class SchemaTable(BaseModel):
    """One table of a related-tables schema: an uploaded dataset and its keys. Keys left
    out (null) are proposed by the engine: a unique ``id`` column as primary key,
    ``<table>_id`` columns as foreign keys."""

    model_config = ConfigDict(extra="forbid")
    dataset_id: str = Field(pattern=ID_PATTERN)
    name: str | None = Field(None, max_length=100, description="Table name (default: the dataset's file name "
                                                               "without suffix); foreign keys refer to it")
    primary_key: str | None = Field(None, max_length=500, description="null: proposed")
    foreign_keys: list[ForeignKey] | None = Field(None, max_length=50, description="null: proposed; [] none")
    order_by: str | None = Field(None, max_length=500,
                                 description="Column ordering a subject's events (null: the first date column)")
    types: dict[str, str] = Field(default_factory=dict, description="Column type overrides, as for one table")


class SchemaRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    tables: list[SchemaTable] = Field(min_length=1, max_length=50)
    drop_orphans: bool = Field(False, description="Drop rows whose foreign keys do not resolve, instead of refusing")


class SchemaTablePatch(BaseModel):
    """Changes to one table, named by ``name``; fields left out stay, null asks for a proposal."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=100)
    primary_key: str | None = Field(None, max_length=500)
    foreign_keys: list[ForeignKey] | None = Field(None, max_length=50)
    order_by: str | None = Field(None, max_length=500)
    types: dict[str, str] | None = None


class SchemaPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    tables: list[SchemaTablePatch] = Field(default_factory=list, max_length=50)
    drop_orphans: bool | None = None


class SchemaTableOut(BaseModel):
    dataset_id: str
    name: str
    primary_key: str | None
    foreign_keys: list[ForeignKey]
    order_by: str | None
    types: dict[str, str]
    rows: int
    columns: list[str]


class Schema(BaseModel):
    """Related tables: datasets linked by keys, validated by the engine."""

    id: str
    name: str
    tables: list[SchemaTableOut]
    proposed: dict[str, list[str]] = Field(description="{table: fields the engine proposed: primary_key, foreign_keys}")
    drop_orphans: bool
    orphans: dict[str, int] = Field(description="{table: rows that would be dropped} with drop_orphans")
    created_at: float
    updated_at: float | None


class ModelTable(BaseModel):
    """One table of a related-tables model, as trained."""

    name: str
    rows: int = Field(description="Rows of the input table")
    primary_key: str | None
    parent: str | None = Field(description="The table owning its rows (context key); null: a subject table")
    parent_fk: str | None
    references: list[ForeignKey]
    order_by: str | None
    columns: list[Column]


class Model(BaseModel):
    id: str
    name: str
    kind: Literal["table", "relational"] = "table"
    dataset_id: str | None
    schema_id: str | None = None
    job_id: str | None
    columns: list[Column]
    tables: list[ModelTable] | None = Field(None, description="Related-tables models: their tables")
    training: dict[str, Any]
    config: dict[str, Any]
    has_qa_data: bool
    created_at: float


class Output(BaseModel):
    id: str
    model_id: str
    job_id: str | None
    file: str
    rows: int
    tables: dict[str, int] | None = Field(None, description="Related tables: rows per table")
    params: dict[str, Any]
    created_at: float


class Report(BaseModel):
    id: str
    output_id: str
    model_id: str
    job_id: str | None
    summary: dict[str, Any]
    created_at: float


class Job(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    target_id: str = Field(description="The dataset (train), schema (train_tables), model (generate) or output "
                                       "(report) it works on")
    params: dict[str, Any]
    progress: dict[str, Any] | None = Field(
        None, description="phase; while training also epoch, max_epochs, train_loss, val_loss, elapsed, eta (s); "
                          "while training related tables: table (the one in training), tables ({table: state})")
    result_id: str | None = Field(None, description="The model, output or report it made, once succeeded")
    error: str | None = None
    created_at: float
    started_at: float | None
    finished_at: float | None


class TrainRequest(BaseModel):
    """Training options are the fields of ``lookalike.TrainConfig``."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200, description="Name of the model (default: the dataset's)")
    options: dict[str, Any] = Field(
        default_factory=dict,
        description="TrainConfig fields, e.g. {\"max_training_time\": 60, \"max_training_rows\": 10000, \"seed\": 1, "
                    "\"types\": {\"zip\": \"categorical\", \"notes\": \"exclude\"}, "
                    "\"differential_privacy\": {\"epsilon\": 5, \"delta\": 1e-5} (or true), "
                    "\"text_model\": \"/models/gpt2\"}. text_model is a folder on the server's machine holding a "
                    "Hugging Face causal language model (config.json, weights, tokenizer), fine-tuned on the text "
                    "columns; a missing folder or one without config.json is refused with 400",
        examples=[{"max_training_time": 60, "seed": 1}],
    )


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: int | None = Field(None, ge=1, le=100_000_000, description="Rows to generate (default: as many as trained on)")
    sizes: dict[str, int] | None = Field(None, description="Related-tables models: rows of each subject table, e.g. "
                                                           "{\"users\": 1000} (default: as trained on)")
    seed: int | None = None
    temperature: float = Field(1.0, gt=0, le=10)
    top_p: float = Field(1.0, gt=0, le=1)
    format: Literal["csv", "parquet", "sqlite"] = Field(
        "csv", description="Related tables: a zip of CSV or Parquet files, or a SQLite file (sqlite)")
    seed_dataset_id: str | None = Field(None, pattern=ID_PATTERN,
                                        description="A dataset of seed rows: one synthetic row per seed row")
    impute: list[str] | None = Field(None, description="Columns whose missing values are filled")
    rebalance: dict[str, dict[str, float]] | None = Field(
        None, description="{column: {category: share}}, e.g. {\"sex\": {\"female\": 0.5}}")
    fairness: dict[str, Any] | None = None


class ReportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: str | None = Field(None, description="Column to predict for the ML-utility section")
    seed: int = 0


class Info(BaseModel):
    version: str
    max_upload_bytes: int
    upload_types: list[str]
    generation_controls: list[str] = Field(description="Generation controls this engine supports")
    column_types: list[str]
    token_required: bool
