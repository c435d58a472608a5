"""The related-tables model file: one zip with meta.json (config, layouts, training
summary) and one flat model file per table. No training rows."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ModelFileError
from ..generator import Generator
from ..io import atomic_path
from .config import RelationalConfig
from .layout import TableLayout

FORMAT = "lookalike-relational"
FORMAT_VERSION = 1


def write_model(path: Path, config: RelationalConfig, layouts: dict[str, TableLayout], models: dict[str, Generator],
                training: dict[str, Any]) -> Path:
    """Write the model file at ``path`` (atomically); the tables' models carry no real rows."""
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": "relational",
            "lookalike_version": __version__, "config": config.model_dump(mode="json"),
            "layouts": {n: l.to_json() for n, l in layouts.items()}, "training": training}
    with tempfile.TemporaryDirectory() as tmpdir, atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr("meta.json", json.dumps(meta, indent=1, default=str))
            for name, g in models.items():
                p = Path(tmpdir) / f"{name}.lookalike"
                g.training_sample_, g.holdout_ = None, None  # no real rows beside table models
                g.save(p)
                z.write(p, f"tables/{name}.lookalike")
    return path


def read_model(path: str | os.PathLike[str], device: str = "auto"
               ) -> tuple[RelationalConfig, dict[str, TableLayout], dict[str, Generator], dict[str, Any]]:
    """(config, layouts, models, training summary) of a model file; a clear error otherwise."""
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as z:
            meta = json.loads(z.read("meta.json"))
            if meta.get("format") != FORMAT:
                raise ModelFileError(f"'{p}' is not a related-tables model file (format {meta.get('format')!r})")
            if meta.get("format_version", 0) > FORMAT_VERSION:
                raise ModelFileError(f"'{p}' was written by a newer lookalike ({meta.get('lookalike_version')}); upgrade")
            layouts = {n: TableLayout.from_json(d) for n, d in meta["layouts"].items()}
            models = {}
            with tempfile.TemporaryDirectory() as tmpdir:
                for name in layouts:
                    target = Path(tmpdir) / f"{name}.lookalike"
                    target.write_bytes(z.read(f"tables/{name}.lookalike"))
                    models[name] = Generator.load(target, device=device)
                    models[name]._path = None
            config = RelationalConfig(**meta["config"])
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, OSError, TypeError, ValueError) as exc:
        raise ModelFileError(f"model file '{p}' is corrupt ({exc.__class__.__name__}: {exc}); train it again") from None
    return config, layouts, models, meta.get("training", {})


def model_format(path: str | os.PathLike[str]) -> str | None:
    """The ``format`` recorded in a model file's meta.json, or None when unreadable."""
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("meta.json")).get("format")
    except Exception:  # not a zip, no meta: the flat loader gives the precise error
        return None
