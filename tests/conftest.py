"""Shared fixtures: tiny frames made here, and the shared datasets when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_file(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared dataset {p} not present (expected ../shared/data beside the repo)")
    return p


@pytest.fixture(scope="session")
def mixed_frame() -> pd.DataFrame:
    """400 rows with every column kind and a deterministic 1:1 relation (code <-> label)."""
    rng = np.random.default_rng(0)
    n = 400
    code = rng.integers(0, 4, n)
    labels = np.array(["low", "mid", "high", "top"])
    return pd.DataFrame({
        "id": np.arange(1000, 1000 + n),
        "age": rng.integers(18, 90, n),
        "income": np.round(rng.lognormal(10, 1, n), 2),
        "level": labels[code],
        "level_code": code,
        "member": rng.random(n) < 0.3,
        "joined": pd.to_datetime("2020-01-01") + pd.to_timedelta(rng.integers(0, 1000, n), unit="D"),
        "note": np.where(rng.random(n) < 0.25, None, rng.choice(["a", "b", "c"], n)),
        "country": "NL",
    })


@pytest.fixture(scope="session")
def tiny_generator(mixed_frame):
    import lookalike

    return lookalike.train(mixed_frame, max_epochs=3, seed=1, progress=False)
