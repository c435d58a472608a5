import numpy as np
import pandas as pd
import pytest

from lookalike.errors import SchemaError
from lookalike.schema import infer_schema


def kinds(df, **kw):
    return {c.name: c.kind for c in infer_schema(df, **kw).columns}


def test_inference_covers_every_kind(mixed_frame):
    df = mixed_frame.assign(empty=None, joined_str=mixed_frame["joined"].dt.strftime("%Y-%m-%d"))
    k = kinds(df)
    assert k == {
        "id": "key", "age": "numeric", "income": "numeric", "level": "categorical", "level_code": "numeric",
        "member": "boolean", "joined": "datetime", "note": "categorical", "country": "constant",
        "empty": "empty", "joined_str": "datetime",
    }


def test_free_text_is_detected_and_reported(caplog):
    rng = np.random.default_rng(0)
    words = np.array(["cosy", "flat", "near", "park", "bright", "room", "with", "garden", "view"])
    text = [" ".join(rng.choice(words, 6)) for _ in range(300)]
    assert kinds(pd.DataFrame({"title": text}))["title"] == "text"
    assert "free text" in caplog.text and "title" in caplog.text


def test_override_and_validation_name_the_column():
    df = pd.DataFrame({"zip": ["1011", "1012", "n/a"], "x": [1, 2, 3]})
    assert kinds(df, types={"x": "categorical"})["x"] == "categorical"
    with pytest.raises(SchemaError) as e:
        infer_schema(df, types={"zip": "numeric", "nope": "numeric"})
    msg = str(e.value)
    assert "'zip'" in msg and "not numbers" in msg and "'n/a'" in msg  # the bad value and the column
    assert "nope" in msg  # every problem reported at once
