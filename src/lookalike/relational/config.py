"""Options of a related-tables training run: a few of their own, the rest passed to every
table's flat model (validated at the door, like ``lookalike.train``'s)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..config import make_config
from ..errors import ConfigError


class RelationalConfig(BaseModel):
    """Options of a related-tables training run; the rest go to every table's flat model."""

    model_config = ConfigDict(extra="forbid")
    drop_orphans: bool = Field(default=False, description="Drop rows whose foreign keys do not resolve (reported).")
    holdout_share: float = Field(default=0.1, ge=0.0, lt=0.9, description="Share of subjects kept aside for QA.")
    lags: int = Field(default=1, ge=1, le=4, description="Previous events each event is conditioned on.")
    max_training_time: float | None = Field(default=None, gt=0, description="Seconds for all tables together.")
    seed: int | None = None
    table_options: dict[str, Any] = Field(default_factory=dict, description="Options of every table's flat model.")


def split_options(options: dict[str, Any]) -> RelationalConfig:
    rel_keys = set(RelationalConfig.model_fields) - {"table_options"}
    rel = {k: v for k, v in options.items() if k in rel_keys}
    flat = {k: v for k, v in options.items() if k not in rel_keys}
    # the flat suite moved flat tables to "small"; related tables' models (event tables with
    # their lags and parent context) keep the width their benchmarks were measured with
    flat.setdefault("model_size", "medium")
    for bad in ("context_columns", "types"):
        if bad in flat:
            raise ConfigError(f"option '{bad}' is set per table in related-tables training (types: in each table spec)")
    if flat.get("differential_privacy") not in (None, False):
        raise ConfigError("differential_privacy is not available for related tables yet (a person's rows in every "
                          "table would have to count as one); train one table at a time, or leave the option out")
    make_config(flat)  # validate at the door
    try:
        return RelationalConfig(**rel, table_options=flat)
    except Exception as exc:
        raise ConfigError(f"related-tables options: {exc}".replace("\n", " ")) from None
