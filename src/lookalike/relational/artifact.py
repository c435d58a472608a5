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
from ..artifact import check_member_sizes
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


def read_model(path: str | os.PathLike[str], device: str = "auto", *, max_bytes: int | None = None
               ) -> tuple[RelationalConfig, dict[str, TableLayout], dict[str, Generator], dict[str, Any]]:
    """(config, layouts, models, training summary) of a model file; a ``ModelFileError``
    naming what is wrong otherwise. Each table's model is checked as a flat model file is."""
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as z:
            check_member_sizes(p, z, max_bytes)
            meta = json.loads(z.read("meta.json"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                found = meta.get("format") if isinstance(meta, dict) else None
                raise ModelFileError(f"'{p}' is not a related-tables model file (format {found!r})")
            version = meta.get("format_version", 0)
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise ModelFileError(f"'{p}' was written by a newer lookalike ({meta.get('lookalike_version')}); upgrade")
            if not isinstance(meta.get("layouts"), dict) or not meta["layouts"]:
                raise ModelFileError(f"model file '{p}' is corrupt (it describes no tables); train it again")
            layouts = {n: TableLayout.from_json(d) for n, d in meta["layouts"].items()}
            config = RelationalConfig(**meta["config"])
            _check_links(p, layouts)
            models = {}
            with tempfile.TemporaryDirectory() as tmpdir:
                for i, name in enumerate(layouts):
                    member = f"tables/{name}.lookalike"
                    if member not in z.namelist():
                        raise ModelFileError(f"model file '{p}' is corrupt (no model of table '{name}'); train it again")
                    target = Path(tmpdir) / f"table-{i}.lookalike"  # never a path made of the file's names
                    target.write_bytes(z.read(member))
                    try:
                        models[name] = Generator.load(target, device=device)
                    except ModelFileError as exc:
                        raise ModelFileError(str(exc).replace(f"'{target}'", f"'{p}' (table '{name}')")) from None
                    models[name]._path = None
    except ModelFileError:
        raise
    except Exception as exc:  # zip, JSON and validation errors of a damaged or tampered file
        raise ModelFileError(f"model file '{p}' is corrupt ({exc.__class__.__name__}: "
                             f"{' '.join(str(exc).split())[:200]}); train it again") from None
    return config, layouts, models, meta.get("training", {}) if isinstance(meta.get("training"), dict) else {}


def _check_links(path: Path, layouts: dict[str, TableLayout]) -> None:
    """Every table's name, parent and children must be tables of the file, parents without a cycle."""
    for name, lay in layouts.items():
        linked = [lay.parent] if lay.parent is not None else []
        if lay.name != name or any(t not in layouts for t in linked + list(lay.children)):
            raise ModelFileError(f"model file '{path}' is corrupt (table '{name}' refers to tables the file "
                                 "does not have); train it again")
        seen, up = {name}, lay.parent
        while up is not None:
            if up in seen:
                raise ModelFileError(f"model file '{path}' is corrupt (its tables' parents form a cycle); "
                                     "train it again")
            seen.add(up)
            up = layouts[up].parent


def model_format(path: str | os.PathLike[str]) -> str | None:
    """The ``format`` recorded in a model file's meta.json, or None when unreadable."""
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("meta.json")).get("format")
    except Exception:  # not a zip, no meta: the flat loader gives the precise error
        return None
