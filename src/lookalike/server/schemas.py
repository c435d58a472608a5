"""Typed request and response bodies of the REST API (they make the OpenAPI docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[0-9a-f]{12}$"
JobStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


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


class Model(BaseModel):
    id: str
    name: str
    dataset_id: str | None
    job_id: str | None
    columns: list[Column]
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
    kind: Literal["train", "generate", "report"]
    status: JobStatus
    target_id: str = Field(description="The dataset (train), model (generate) or output (report) it works on")
    params: dict[str, Any]
    progress: dict[str, Any] | None = Field(
        None, description="phase; while training also epoch, max_epochs, train_loss, val_loss, elapsed, eta (s)")
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
                    "\"types\": {\"zip\": \"categorical\", \"notes\": \"exclude\"}}",
        examples=[{"max_training_time": 60, "seed": 1}],
    )


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rows: int | None = Field(None, ge=1, le=100_000_000, description="Rows to generate (default: as many as trained on)")
    seed: int | None = None
    temperature: float = Field(1.0, gt=0, le=10)
    top_p: float = Field(1.0, gt=0, le=1)
    format: Literal["csv", "parquet"] = "csv"
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
