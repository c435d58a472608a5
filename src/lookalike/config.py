"""The one object that holds every training option.

Validated once at the door (``lookalike.train``), saved inside the model file and
printed in the QA report.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigError

ColumnType = Literal["numeric", "categorical", "datetime", "boolean", "key", "text", "exclude"]

# differential privacy defaults (``lookalike.privacy.dp``)
DP_DEFAULT_EPSILON = 5.0  # moderate (deployed DP releases use ~1-10); 1 is strong
DP_DEFAULT_DELTA = 1e-5  # data-independent; pass a smaller one for tables of more than ~100k rows
DP_PREPROCESSING_SHARE = 0.3  # share of ε calibrating the statistics alone (measured best at 0.25-0.4 on adult)
DP_EPOCHS = 8.0  # expected passes over the rows; the noise is calibrated for them


class DifferentialPrivacy(BaseModel):
    """The ``differential_privacy`` option: the (ε, δ) budget of the whole model file
    (statistics and training, composed), one row being one person."""

    model_config = ConfigDict(extra="forbid")

    epsilon: float = Field(default=DP_DEFAULT_EPSILON, gt=0, le=1000, description="Privacy budget ε (smaller: more private).")
    delta: float = Field(default=DP_DEFAULT_DELTA, gt=0, lt=1e-2,
                         description="δ: the chance the ε bound fails; keep it well below 1/rows.")
    max_grad_norm: float = Field(default=1.0, gt=0, description="Per-row gradient clipping norm of DP-SGD.")
    epochs: float = Field(default=DP_EPOCHS, gt=0, le=1000,
                          description="Expected passes over the rows (a fixed number: no early stopping under DP).")
    preprocessing_share: float = Field(default=DP_PREPROCESSING_SHARE, gt=0, lt=1,
                                       description="Share of ε calibrating the noise of the encoders' statistics.")
    any_order: bool = Field(default=True, description="Also learn the conditionals that seeded generation and "
                            "imputation use (random column orders, as without DP); False spends the whole budget "
                            "on the input order (better plain samples).")


class TrainConfig(BaseModel):
    """Every option of ``lookalike.train``; all have sane defaults."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    types: dict[str, ColumnType] = Field(
        default_factory=dict, description="Override the inferred kind of a column, e.g. {'zip': 'categorical'}."
    )
    max_training_rows: int | None = Field(
        default=None, ge=1, description="Train on a random subsample of at most this many rows."
    )
    holdout_share: float = Field(
        default=0.1, ge=0.0, lt=0.9,
        description="Share of rows kept aside (never trained on) for the QA report; ignored when a holdout is passed.",
    )
    max_holdout_rows: int = Field(default=10_000, ge=0, description="Cap on the holdout size.")
    max_epochs: int = Field(default=200, ge=1)
    max_training_time: float | None = Field(
        default=600, gt=0, description="Seconds; training stops after this (then anneals and keeps the best). None: no limit."
    )
    batch_size: int | None = Field(default=None, ge=8, description="Rows per step; None picks one from the data size.")
    learning_rate: float = Field(default=3e-3, gt=0)
    patience: int = Field(default=5, ge=1, description="Epochs without validation improvement before stopping.")
    seed: int | None = Field(default=None, description="Makes a CPU run reproducible.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    rare_category_protection: bool = Field(
        default=True, description="Categories held by fewer than ~5-7 training rows never appear in the output."
    )
    rare_category_replacement: Literal["rare", "sample"] = Field(
        default="rare", description="'rare' writes _RARE_; 'sample' draws a frequent category instead."
    )
    value_protection: bool = Field(
        default=True, description="Numeric/datetime ranges are not set by single individuals (extremes clipped)."
    )
    context_columns: list[str] = Field(
        default_factory=list,
        description="Columns that are always given at generation (e.g. a parent's attributes): they come first "
        "in every order and are not learned, so the model learns the rest conditioned on them.",
    )
    model_size: Literal["small", "medium", "large"] = Field(
        default="small", description="Network width: small (8-dim embeddings, 64 hidden units per head), medium (12, 128), large (16, 256)."
    )
    progress: bool = Field(default=True, description="Show a progress bar.")
    text_training_share: float = Field(
        default=0.3, gt=0, lt=1,
        description="Share of max_training_time for the text model when the table has text columns (the flat "
        "model gets the rest; time it leaves unused goes to the text model).",
    )
    text_never_replay: bool = Field(
        default=False,
        description="Redraw a generated text equal to a training text (columns whose texts are mostly unique). "
        "The model file then holds a keyed 32-bit hash of each such training text, which lets whoever holds "
        "the file test whether a given text was probably in the training data.",
    )
    text_model: str | None = Field(
        default=None,
        description="A local Hugging Face causal language model folder (save_pretrained): text columns are then "
        "written by it, fine-tuned with each row's other columns as a prompt, instead of the built-in model "
        "(needs `pip install lookalike[text-hf]`; nothing is downloaded). The model file keeps the fine-tuned "
        "weights and tokenizer, so generation does not need the folder.",
    )
    differential_privacy: DifferentialPrivacy | None = Field(
        default=None,
        description="True or {'epsilon': 1.0, 'delta': 1e-5}: train with differential privacy (DP statistics "
        "and DP-SGD; needs `pip install lookalike[dp]`). True means epsilon 5, delta 1e-5.",
    )

    @field_validator("differential_privacy", mode="before")
    @classmethod
    def _dp_shorthand(cls, v):
        if v is True:
            return DifferentialPrivacy()
        if v is False:
            return None
        return v

    @model_validator(mode="after")
    def _one_text_model(self) -> TrainConfig:
        if self.text_model is not None and self.differential_privacy is not None:
            raise ValueError("text_model does not apply under differential_privacy (text columns are then "
                             "categories of values shared by several rows); leave one of them out")
        return self

    @field_validator("types")
    @classmethod
    def _names_are_strings(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if not isinstance(k, str):
                raise ValueError(f"column names in types must be strings, got {k!r}")
        return v


def make_config(options: dict) -> TrainConfig:
    """Validate training options once, at the door, with a readable error."""
    try:
        return TrainConfig(**options)
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            field = ".".join(str(x) for x in e["loc"]) or "options"
            if not e["loc"]:  # a rule between options: its message names them
                problems.append(str(e["msg"]).removeprefix("Value error, "))
            elif e["type"] == "extra_forbidden":
                known = ", ".join(TrainConfig.model_fields)
                problems.append(f"unknown option '{field}'; known options: {known}")
            else:
                problems.append(f"option '{field}': {e['msg']} (got {e.get('input')!r})")
        raise ConfigError("; ".join(problems)) from None
