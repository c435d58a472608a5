"""Shared fixtures: tiny frames made here, and the shared datasets when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED = Path(os.environ.get("LOOKALIKE_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
# CI sets this: there a missing shared dataset is a failure, not a quiet skip.
REQUIRE_SHARED = os.environ.get("LOOKALIKE_REQUIRE_SHARED_DATA") == "1"


def shared_file(*parts: str) -> Path:
    """The path of a shared dataset; skips the test when it is absent (fails under
    LOOKALIKE_REQUIRE_SHARED_DATA=1)."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        message = f"shared dataset {p} not present (expected ../shared/data beside the repo, or $LOOKALIKE_SHARED_DATA)"
        if REQUIRE_SHARED:
            pytest.fail(f"{message}; LOOKALIKE_REQUIRE_SHARED_DATA=1 makes this a failure", pytrace=False)
        pytest.skip(message)
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


TITLE_WORDS = np.array(["cosy", "flat", "near", "park", "bright", "room", "with", "garden", "view"])


def titled_table(n: int, seed: int = 0, odd_title: str = "beta café ß") -> pd.DataFrame:
    """``title`` starts with "alpha" when kind is A, "beta" when B; 10% of titles are null;
    the first title (``odd_title``) has characters or words no other row uses."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(["A", "B"], n)
    title = [("alpha " if k == "A" else "beta ") + " ".join(rng.choice(TITLE_WORDS, 3)) for k in kind]
    title[0] = odd_title
    df = pd.DataFrame({"kind": kind, "size": rng.integers(1, 5, n), "title": title})
    df.loc[rng.random(n) < 0.1, "title"] = None
    return df
