"""The model file: one zip holding JSON (config, schema, encoder statistics, metadata)
and safetensors weights. No pickles, no training rows."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import torch

from .errors import ModelFileError
from .io import atomic_path

FORMAT = "lookalike-model"
FORMAT_VERSION = 1
_MEMBERS = ("meta.json", "config.json", "schema.json", "encoders.json", "weights.safetensors")


def write_model_file(path: str | os.PathLike[str], parts: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> Path:
    """Write ``parts`` (JSON-able dicts keyed by member name without .json) and weights."""
    from safetensors.torch import save

    target = Path(path)
    if not target.parent.exists():
        raise ModelFileError(f"model file '{target}': folder {target.parent} does not exist; create it first")
    weights = save({k: v.detach().cpu().contiguous() for k, v in state_dict.items()})
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **parts.get("meta", {})}
    with atomic_path(target) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr("meta.json", json.dumps(meta, indent=2))
            for name in ("config", "schema", "encoders"):
                z.writestr(f"{name}.json", json.dumps(parts[name], indent=1))
            z.writestr("weights.safetensors", weights)
    return target


def read_model_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Return (parts, state_dict); refuse missing, foreign, corrupt or too-new files clearly."""
    from safetensors.torch import load

    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"model file '{p}' not found; train one with `lookalike train DATA --out {p.name}`")
    if not zipfile.is_zipfile(p):
        raise ModelFileError(f"'{p}' is not a lookalike model file (not a zip archive); pass a file written by `lookalike train`")
    try:
        with zipfile.ZipFile(p) as z:
            names = set(z.namelist())
            missing = [m for m in _MEMBERS if m not in names]
            if missing:
                raise ModelFileError(f"'{p}' is not a lookalike model file (missing {', '.join(missing)})")
            meta = json.loads(z.read("meta.json"))
            if meta.get("format") != FORMAT:
                raise ModelFileError(f"'{p}' is not a lookalike model file (format {meta.get('format')!r})")
            version = meta.get("format_version")
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise ModelFileError(
                    f"'{p}' was written by lookalike {meta.get('lookalike_version', '?')} (model format {version}); "
                    f"this lookalike reads format {FORMAT_VERSION} and older: upgrade lookalike"
                )
            parts = {"meta": meta}
            for name in ("config", "schema", "encoders"):
                parts[name] = json.loads(z.read(f"{name}.json"))
            state = load(z.read("weights.safetensors"))
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, json.JSONDecodeError, OSError, ValueError, KeyError) as exc:
        raise ModelFileError(f"model file '{p}' is corrupt ({exc.__class__.__name__}: {exc}); train it again") from None
    except Exception as exc:  # safetensors raises its own error types on corrupt weights
        raise ModelFileError(f"model file '{p}' is corrupt ({exc.__class__.__name__}: {exc}); train it again") from None
    return parts, state
