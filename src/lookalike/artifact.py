"""The model file: one zip holding JSON (config, schema, encoder statistics, metadata)
and safetensors weights. No pickles, no training rows."""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Annotated, Any, Callable, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import ModelFileError
from .io import atomic_path
from .model import FIRST_LAYERS, SIZES

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


def read_model_file(path: str | os.PathLike[str], *, max_bytes: int | None = None
                    ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Return (parts, state_dict); refuse missing, foreign, corrupt, tampered or too-new files
    with a ``ModelFileError`` naming what is wrong. The file is untrusted input: its sizes,
    its network description and its tensors' shapes are checked against each other and
    against sane limits before anything big is read or allocated."""
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
            check_member_sizes(p, z, max_bytes)
            meta = _json(z, "meta.json")
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                found = meta.get("format") if isinstance(meta, dict) else None
                raise ModelFileError(f"'{p}' is not a lookalike model file (format {found!r})")
            version = meta.get("format_version")
            if not isinstance(version, int) or version > FORMAT_VERSION:
                raise ModelFileError(
                    f"'{p}' was written by lookalike {meta.get('lookalike_version', '?')} (model format {version}); "
                    f"this lookalike reads format {FORMAT_VERSION} and older: upgrade lookalike"
                )
            net = network_of(meta, p)  # checked before the weights are read
            expected = expected_shapes(net)
            text = text_network_of(meta, net, p, lambda: _weight_names(z))
            if text is not None:
                expected.update(text_expected_shapes(text))
            weights = z.getinfo("weights.safetensors")
            data_bytes = 4 * sum(math.prod(s) for s in expected.values())
            if not data_bytes <= weights.file_size <= data_bytes + MAX_WEIGHTS_HEADER:
                raise ModelFileError(f"model file '{p}' is corrupt (its weights hold {weights.file_size:,} bytes, "
                                     f"its network needs {data_bytes:,}); train it again")
            parts = {"meta": meta}
            for name in ("config", "schema", "encoders"):
                parts[name] = _json(z, f"{name}.json")
            raw = z.read("weights.safetensors")
            _check_weights_header(raw, expected, p)
            state = load(raw)
    except ModelFileError:
        raise
    except Exception as exc:  # zip, JSON, safetensors and decompression errors of a damaged file
        raise ModelFileError(f"model file '{p}' is corrupt ({exc.__class__.__name__}: {_short(exc)}); "
                             "train it again") from None
    return parts, state


# --- checks of an untrusted file ------------------------------------------------------------
MAX_MODEL_BYTES = 8 * 2**30  # all members of a model file, decompressed
MAX_JSON_BYTES = 512 * 2**20  # one JSON member (encoders of many categories are the largest)
MAX_WEIGHTS_HEADER = 2**20  # safetensors' JSON header before the tensor data
MAX_SUB_COLUMNS = 10_000  # token positions (a column has 1 to 3); the model holds an S x S mask
MAX_CARDINALITY = 20_000_000  # tokens of one sub-column (categories, values)
MAX_KEY_WIDTH = 1_000  # characters of a generated key
MAX_PARAMETERS = 2_000_000_000  # 8 GB of float32: far beyond what training makes


class Network(BaseModel):
    """The network description in meta.json, with the limits a real file stays within."""

    model_config = ConfigDict(extra="ignore", strict=True)
    cardinalities: list[Annotated[int, Field(ge=1, le=MAX_CARDINALITY)]] = Field(max_length=MAX_SUB_COLUMNS)
    column_of_sub: list[Annotated[int, Field(ge=0)]] = Field(max_length=MAX_SUB_COLUMNS)
    size: Literal[tuple(SIZES)]  # type: ignore[valid-type]
    first_layer: str = "dense"  # files from before the choice are dense
    own_details: list[Annotated[int, Field(ge=0)]] = Field(default=[], max_length=MAX_SUB_COLUMNS)  # older files: none


def network_of(meta: dict[str, Any], path: str | os.PathLike[str]) -> Network:
    """The checked network description of a model file's meta.json."""
    try:
        net = Network.model_validate(meta.get("model"))
    except ValidationError as exc:
        raise ModelFileError(f"model file '{path}' has an invalid network description ({_first_problem(exc)}); "
                             "train it again") from None
    if net.first_layer not in FIRST_LAYERS:
        raise ModelFileError(f"model file '{path}' has a first layer {net.first_layer!r} this lookalike does not "
                             f"know (it knows {', '.join(FIRST_LAYERS)}); upgrade lookalike")
    cols = net.column_of_sub
    if len(cols) != len(net.cardinalities) or any(b < a for a, b in zip(cols, cols[1:])):
        raise ModelFileError(f"model file '{path}' has an inconsistent network description (sub-columns and "
                             "their columns do not match); train it again")
    firsts = {i for i, c in enumerate(cols) if i == 0 or cols[i - 1] != c}
    if any(i >= len(cols) or i in firsts for i in net.own_details):
        raise ModelFileError(f"model file '{path}' has an inconsistent network description (own_details names "
                             "a sub-column that is not a detail); train it again")
    n = sum(math.prod(s) for s in expected_shapes(net).values())
    if n > MAX_PARAMETERS:
        raise ModelFileError(f"model file '{path}' describes a network of {n:,} parameters, more than "
                             f"{MAX_PARAMETERS:,}; it is not a file lookalike wrote")
    return net


def expected_shapes(net: Network) -> dict[str, tuple[int, ...]]:
    """The state_dict's tensor shapes of ``TabularModel`` for this description (a test keeps
    them equal to the model's), computed without building the model."""
    S, cards = len(net.cardinalities), net.cardinalities
    d, H = SIZES[net.size]
    V = max(cards, default=1)
    shapes = {"embedding.weight": (max(sum(cards), 1), d)}
    if net.first_layer == "dense":
        shapes["w1"] = (S, S * d + S, H)
    else:
        shapes["w_src"], shapes["b_src"] = (S, d, H), (S, 1, H)
    shapes.update({"b1": (S, 1, H), "w2": (S, H, H), "b2": (S, 1, H), "w_out": (S, H, V), "b_out": (S, 1, V)})
    return shapes


# --- the text model (``lookalike.text``), when the table has text columns -------------------
# The text model's format, recorded in its description ("text_format"); files from before it was
# recorded are told apart by the description and their tensors (``_text_format_of``):
#   1  the character GRU, without the length-aware input ("room"): still read
#   2  word tokenizers, a low-rank output and the length-aware input, without the row's context
#      at the output, the adaptive softmax and the values' positions: no longer read
#   3  all of those; or a fine-tuned Hugging Face model (kind "pretrained", ``text/hf.py``)
TEXT_FORMAT = 3
READ_TEXT_FORMATS = {"builtin": (1, TEXT_FORMAT), "pretrained": (TEXT_FORMAT,)}
MAX_TEXT_VOCAB = 200_000  # characters of all text columns together, + specials
MAX_TEXT_WIDTH = 8_192  # embedding and hidden sizes
MAX_TEXT_LAYERS = 8
MAX_REPLAY_HASHES = 50_000_000


class TextNetwork(BaseModel):
    """The text network description in meta.json ("text_model")."""

    model_config = ConfigDict(extra="ignore", strict=True)
    columns: list[str] = Field(min_length=1, max_length=MAX_SUB_COLUMNS)
    vocab_size: int = Field(ge=3, le=MAX_TEXT_VOCAB)
    embed: int = Field(ge=1, le=MAX_TEXT_WIDTH)
    hidden: int = Field(ge=1, le=MAX_TEXT_WIDTH)
    layers: int = Field(ge=1, le=MAX_TEXT_LAYERS)
    head_rank: int = Field(default=0, ge=0, le=MAX_TEXT_WIDTH)  # 0: files from before the low-rank output layer
    room: bool = False  # files from before the length-aware input: none
    context_cardinalities: list[int] = Field(max_length=MAX_SUB_COLUMNS)
    replay_key: str = Field(default="", max_length=64)
    replay: dict[str, list[Annotated[int, Field(ge=0, lt=2**32)]]] = Field(default_factory=dict)


def text_network_of(meta: dict[str, Any], net: Network, path: str | os.PathLike[str],
                    weight_names: Callable[[], set[str]] | None = None):
    """The checked text network description of a model file's meta.json (None: no text model;
    a ``text.hf.PretrainedNetwork`` for a fine-tuned Hugging Face model). A text format this
    lookalike does not read is refused, saying which; ``weight_names`` (the names of the
    file's tensors) tells the formats of files from before it was recorded apart."""
    raw = meta.get("text_model")
    if raw is None:
        return None
    fmt = _text_format_of(raw, path, weight_names)
    if isinstance(raw, dict) and raw.get("kind") == "pretrained":  # a fine-tuned Hugging Face model
        from .text.hf import pretrained_network_of

        return pretrained_network_of(raw, path)
    try:
        text = TextNetwork.model_validate(raw)
    except ValidationError as exc:
        raise ModelFileError(f"model file '{path}' has an invalid text network description ({_first_problem(exc)}); "
                             "train it again") from None
    problem = None
    if fmt is not None and text.room != (fmt >= 2):
        problem = f"its text model's length-aware input does not match its text format {fmt}"
    elif text.context_cardinalities != net.cardinalities:
        problem = "its text model's context does not match the network's sub-columns"
    elif len(set(text.columns)) != len(text.columns) or not set(text.replay) <= set(text.columns):
        problem = "its text model's columns repeat or are unknown"
    elif sum(map(len, text.replay.values())) > MAX_REPLAY_HASHES:
        problem = "its text model holds too many training-text hashes"
    if problem:
        raise ModelFileError(f"model file '{path}' is corrupt ({problem}); train it again")
    n = sum(math.prod(s) for s in text_expected_shapes(text).values())
    if n > MAX_PARAMETERS:
        raise ModelFileError(f"model file '{path}' describes a text network of {n:,} parameters, more than "
                             f"{MAX_PARAMETERS:,}; it is not a file lookalike wrote")
    return text


def _text_format_of(raw: Any, path: str | os.PathLike[str], weight_names: Callable[[], set[str]] | None
                    ) -> int | None:
    """The text format of a text model description, refused unless this lookalike reads it
    (None: a file from before the format was recorded whose tensors were not looked at)."""
    if not isinstance(raw, dict):
        return None  # the description's own check says what is wrong
    kind = "pretrained" if raw.get("kind") == "pretrained" else "builtin"
    fmt = raw.get("text_format")
    if fmt is None:  # recorded since format 3; before it: 1 without the length-aware input, else 2 or 3
        if kind == "pretrained" or raw.get("room") is not True:
            return TEXT_FORMAT if kind == "pretrained" else 1
        if weight_names is None:
            return None
        fmt = TEXT_FORMAT if "text.context_head.weight" in weight_names() else 2
    if type(fmt) is not int or fmt < 1:
        raise ModelFileError(f"model file '{path}' has an invalid text model description (text_format: "
                             f"{str(fmt)[:50]!r}); train it again")
    if fmt > TEXT_FORMAT:
        raise ModelFileError(f"model file '{path}' was written by a newer lookalike text format {fmt}; this lookalike "
                             f"reads text formats up to {TEXT_FORMAT}: upgrade lookalike")
    if fmt not in READ_TEXT_FORMATS[kind]:
        from . import __version__

        raise ModelFileError(f"model file '{path}' was written by an older lookalike text format {fmt}; retrain it "
                             f"with this version (lookalike {__version__} writes text format {TEXT_FORMAT})")
    return fmt


def _weight_names(z: zipfile.ZipFile) -> set[str]:
    """The tensor names of a model file's weights, from their header alone."""
    with z.open("weights.safetensors") as f:
        n = int.from_bytes(f.read(8), "little")
        if n > MAX_WEIGHTS_HEADER:
            raise ValueError(f"its weights' header would be {n:,} bytes")  # read_model_file: corrupt
        header = json.loads(f.read(n))
    return set(header) if isinstance(header, dict) else set()


def text_expected_shapes(text: TextNetwork) -> dict[str, tuple[int, ...]]:
    """The text model's tensors in the weights file: its state_dict's, prefixed "text."."""
    if not isinstance(text, TextNetwork):  # a fine-tuned Hugging Face model
        return text.expected_shapes()
    from .text.model import text_shapes

    shapes = text_shapes(text.context_cardinalities, text.vocab_size, len(text.columns), text.embed,
                         text.hidden, text.layers, text.head_rank, text.room)
    return {f"text.{k}": v for k, v in shapes.items()}


def check_text_network(text: TextNetwork | None, encoder, path: str | os.PathLike[str]) -> None:
    """The text network must write exactly the encoder's text columns, with their vocabulary."""
    from .encoding.text import TextEncoder
    from .text.model import TextVocab

    encs = [e for e in encoder.encoders if isinstance(e, TextEncoder)]
    if text is None and not encs:
        return
    if text is None or text.columns != [e.name for e in encs]:
        raise ModelFileError(f"model file '{path}' is corrupt (its text model does not match its text columns); "
                             "train it again")
    if isinstance(text, TextNetwork) and text.vocab_size != TextVocab.of([e.vocab_ for e in encs]).size:
        raise ModelFileError(f"model file '{path}' is corrupt (its text model's vocabulary size {text.vocab_size} "
                             "does not match its text columns' tokenizers); train it again")


def check_member_sizes(path: Path, z: zipfile.ZipFile, max_bytes: int | None = None) -> None:
    """Refuse a file whose members would decompress beyond the limits (a zip bomb), before
    any is read: zipfile never returns more than a member's recorded size."""
    limit = MAX_MODEL_BYTES if max_bytes is None else max_bytes
    total = 0
    for info in z.infolist():
        if info.filename.endswith(".json") and info.file_size > MAX_JSON_BYTES:
            raise ModelFileError(f"model file '{path}': {info.filename} would be {info.file_size:,} bytes, more "
                                 f"than {MAX_JSON_BYTES:,}; it is not a file lookalike wrote")
        total += info.file_size
    if total > limit:
        raise ModelFileError(f"model file '{path}' would be {total / 1e6:,.0f} MB decompressed, more than the "
                             f"limit of {limit / 1e6:,.0f} MB")


def check_model_size(path: str | os.PathLike[str], max_bytes: int) -> None:
    """Refuse a model file (flat, or related tables with a flat file per table) that would
    decompress beyond ``max_bytes``, reading only zip directories."""
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as z:
            check_member_sizes(p, z, max_bytes)
            for info in z.infolist():
                if info.filename.endswith(".lookalike"):  # a table's model inside related tables
                    with zipfile.ZipFile(io.BytesIO(z.read(info))) as inner:
                        check_member_sizes(p, inner, max_bytes)
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(f"model file '{p}' is corrupt ({exc.__class__.__name__}: {_short(exc)}); "
                             "train it again") from None


def _check_weights_header(raw: bytes, expected: dict[str, tuple[int, ...]], path: Path) -> None:
    """The safetensors header must list exactly the expected float32 tensors and shapes."""
    if len(raw) < 8:
        raise ModelFileError(f"model file '{path}' is corrupt (its weights are cut short); train it again")
    n = int.from_bytes(raw[:8], "little")
    if n > min(MAX_WEIGHTS_HEADER, len(raw) - 8):
        raise ModelFileError(f"model file '{path}' is corrupt (its weights' header is cut short); train it again")
    header = json.loads(raw[8 : 8 + n])
    if not isinstance(header, dict):
        raise ModelFileError(f"model file '{path}' is corrupt (its weights' header is not a table); train it again")
    header.pop("__metadata__", None)
    found = {k: (v.get("dtype"), tuple(v.get("shape", ()))) for k, v in header.items() if isinstance(v, dict)}
    for name, shape in expected.items():
        if found.get(name) != ("F32", shape):
            got = found.get(name)
            raise ModelFileError(f"model file '{path}' is corrupt (tensor {name}: expected float32 {list(shape)}, "
                                 f"found {'nothing' if got is None else f'{got[0]} {list(got[1])}'}); train it again")
    extra = sorted(set(header) - set(expected))
    if extra:
        raise ModelFileError(f"model file '{path}' is corrupt (unexpected tensors {', '.join(extra[:3])}); "
                             "train it again")


def _json(z: zipfile.ZipFile, name: str) -> Any:
    return json.loads(z.read(name))


def _first_problem(exc: ValidationError) -> str:
    e = exc.errors()[0]
    where = ".".join(str(x) for x in e["loc"]) or "model"
    return f"{where}: {e['msg']}"[:200]


def _short(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]



def table_parts(parts: dict[str, Any], net: Network, path: str | os.PathLike[str]):
    """(config, schema, encoder) of a flat model file, checked against each other and the
    network: every column's encoder must give the sub-columns the network was built for and
    turn any token the network can draw back into values (tried once here, on a few rows)."""
    import numpy as np
    import pandas as pd

    from .config import TrainConfig
    from .encoding import ENCODERS, TableEncoder
    from .schema import TableSchema

    def bad(what: str) -> ModelFileError:
        return ModelFileError(f"model file '{path}' is corrupt ({what}); train it again")

    try:
        config = TrainConfig.model_validate(parts["config"])
        schema = TableSchema.model_validate(parts["schema"])
    except ValidationError as exc:
        raise bad(f"its settings do not validate: {_first_problem(exc)}") from None
    states = parts["encoders"]
    if not isinstance(states, list) or not all(
            isinstance(e, dict) and e.get("kind") in ENCODERS and isinstance(e.get("name"), str)
            and isinstance(e.get("dtype"), str) for e in states):
        raise bad("its column encoders are not a list of known kinds with a name and a dtype")
    kept = [c.name for c in schema.columns if c.kind != "exclude"]
    if [e["name"] for e in states] != kept:
        raise bad("its column encoders do not match its schema's columns")
    for e in states:
        width = e.get("width_", 0)
        if not isinstance(width, int) or not 0 <= width <= MAX_KEY_WIDTH:
            raise bad(f"column '{e['name']}': key width {width!r} out of range")
    try:
        encoder = TableEncoder.from_state(states)
        cards, cols = encoder.cardinalities, encoder.column_of_sub
    except Exception as exc:  # a tampered state the encoder classes cannot take
        raise bad(f"its column encoders do not load: {exc.__class__.__name__}: {_short(exc)}") from None
    if cards != net.cardinalities or cols != net.column_of_sub:
        raise bad("its column encoders do not match its network's sub-columns")
    rng = np.random.default_rng(0)
    for e in encoder.encoders:
        k = len(e.cardinalities)
        rows = min(max(e.cardinalities, default=1), 4096)
        tokens = np.stack([np.arange(rows) % c for c in e.cardinalities], axis=1) if k else np.zeros((rows, 0), int)
        try:
            values = e.decode(tokens.astype(np.int64), rng)
            if k:
                e.encode(pd.Series(values))
        except Exception as exc:
            raise bad(f"column '{e.name}' cannot be decoded: {exc.__class__.__name__}: {_short(exc)}") from None
    return config, schema, encoder
