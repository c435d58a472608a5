"""Reading and writing tables: CSV (optionally gzipped), Parquet and DataFrames.

Writes are atomic: output goes to a temporary file beside the target and is renamed at
the end, so a failed job never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

READ_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".parquet", ".pq")
# URIs of Parquet datasets read through pyarrow's file systems (credentials come from the environment)
DATASET_SCHEMES = ("s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss", "file")
WRITE_SUFFIXES = (".csv", ".csv.gz", ".parquet")
NESTED = (list, tuple, dict, set, np.ndarray)  # values of nested Parquet columns (or of DataFrames built so)
NESTED_SAMPLE = 1000  # a nested column is nested throughout: its first values tell


def _suffix(path: Path) -> str:
    name = path.name.lower()
    for s in sorted(set(READ_SUFFIXES + WRITE_SUFFIXES), key=len, reverse=True):
        if name.endswith(s):
            return s
    return path.suffix.lower()


def is_dataset_uri(value: object) -> bool:
    """True for ``scheme://...`` with a file system scheme pyarrow reads (``s3://bucket/events/``)."""
    return isinstance(value, str) and "://" in value and value.split("://", 1)[0].lower() in DATASET_SCHEMES


def read_table(data: pd.DataFrame | str | os.PathLike[str], name: str = "data") -> pd.DataFrame:
    """Return ``data`` as a DataFrame, reading it from a CSV/Parquet path if needed, or from
    a Parquet dataset: a folder of parts (what ``generate --out big/`` writes) or a URI such
    as ``s3://bucket/events/`` (see ``read_dataset``).

    Checks what every later stage relies on: at least one row and one column, and
    unique, string column names.
    """
    if isinstance(data, pd.DataFrame):
        df = data
    elif is_dataset_uri(data) or Path(data).is_dir():
        df = read_dataset(data, name)
    else:
        path = Path(data)
        if not path.exists():
            raise InputError(f"table '{name}': file not found: {path}; check the path")
        suffix = _suffix(path)
        try:
            if suffix in (".parquet", ".pq"):
                df = pd.read_parquet(path)
            elif suffix in (".csv", ".csv.gz", ".tsv"):
                sep = "\t" if suffix == ".tsv" else ","
                df = pd.read_csv(path, sep=sep, low_memory=False)
            else:
                raise InputError(
                    f"table '{name}': unsupported file type '{suffix or path.name}'; "
                    f"use one of {', '.join(READ_SUFFIXES)}"
                )
        except InputError:
            raise
        except pd.errors.EmptyDataError:
            raise InputError(f"table '{name}': {path} is empty; it needs a header row and data rows") from None
        except Exception as exc:  # parser errors, bad parquet, bad gzip, permissions
            raise InputError(f"table '{name}': cannot read {path}: {exc.__class__.__name__}: {exc}") from None
    check_frame(df, name)
    return df


def read_dataset(location: str | os.PathLike[str], name: str = "data") -> pd.DataFrame:
    """A Parquet dataset (a folder of Parquet files, or a file or folder behind a URI) as one
    frame, read through ``pyarrow.dataset``: its parts in name order, with pyarrow's file
    system for the URI's scheme (S3, GCS, HDFS, Azure; credentials from the environment)."""
    import pyarrow.dataset as ds

    text = os.fspath(location)
    if not is_dataset_uri(text):
        folder = Path(text)
        if not any(_suffix(f) in (".parquet", ".pq") for f in folder.rglob("*") if f.is_file()):
            raise InputError(f"table '{name}': {folder} is a folder without Parquet files; pass a CSV or Parquet "
                             "file, or a folder of Parquet parts")
    try:
        return ds.dataset(text, format="parquet").to_table().to_pandas()
    except Exception as exc:  # a missing bucket or object, no credentials, a bad part
        raise InputError(f"table '{name}': cannot read the Parquet dataset {text}: "
                         f"{exc.__class__.__name__}: {exc}") from None


def check_frame(df: pd.DataFrame, name: str = "data") -> None:
    """Raise ``InputError`` if the frame has no rows/columns or unusable column names."""
    if df.shape[1] == 0:
        raise InputError(f"table '{name}': has no columns")
    bad = [repr(c) for c in df.columns if not isinstance(c, str)]
    if bad:
        raise InputError(
            f"table '{name}': column names must be strings, got {', '.join(bad[:5])}; "
            "rename them, e.g. df.columns = df.columns.map(str)"
        )
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise InputError(f"table '{name}': duplicate column names {dupes}; rename them so each is unique")
    nested = [c for c in df.columns if df[c].dtype == object
              and any(isinstance(v, NESTED) for v in df[c].dropna().head(NESTED_SAMPLE))]
    if nested:
        raise InputError(f"table '{name}': column(s) {', '.join(map(repr, nested))} hold lists or records "
                         "(nested data); lookalike models flat columns: spread them into plain columns or drop them")
    if len(df) == 0:
        raise InputError(f"table '{name}': has no rows; a model needs data to learn from")


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Validate an output path's type and folder before any work is done."""
    p = Path(path)
    if _suffix(p) not in WRITE_SUFFIXES:
        raise InputError(f"output '{p}': unsupported file type; use one of {', '.join(WRITE_SUFFIXES)}")
    if not p.parent.exists():
        raise InputError(f"output '{p}': folder {p.parent} does not exist; create it first")
    return check_writable(p)


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Raise ``InputError`` now, before any work, if ``path``'s folder takes no new files
    (no permission, a read-only or virtual file system)."""
    p = Path(path)
    _create_beside(p, _new_file).unlink()
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    target = Path(path)
    tmp = _create_beside(target, _new_file)
    try:
        yield tmp
        _rename(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a staging folder beside ``path``; on success its files replace those of
    ``path`` (the folder itself is renamed into place when ``path`` does not exist yet),
    on failure it is removed: a set of files is written whole or not at all."""
    target = Path(path)
    staging = _create_beside(target, lambda p: os.mkdir(p, 0o777))
    try:
        yield staging
        if not target.exists():
            _rename(staging, target)
        else:
            for f in staging.iterdir():
                _rename(f, target / f.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _create_beside(target: Path, create: Callable[[Path], None]) -> Path:
    """A new hidden name in ``target``'s folder, made by ``create``, which must refuse an
    existing name. It asks for the usual modes (0o666 for a file, 0o777 for a folder) and
    the system applies the caller's umask, so an output gets the permissions of any file
    the user writes; the umask is never read or set here (it belongs to the process)."""
    while True:
        candidate = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            create(candidate)
            return candidate
        except FileExistsError:
            continue
        except OSError as exc:
            raise InputError(f"output '{target}': cannot write in {target.parent}: {exc.strerror or exc}") from None


def _new_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))


def _rename(src: Path, dest: Path) -> None:
    try:
        os.replace(src, dest)
    except OSError as exc:
        raise InputError(f"output '{dest}': cannot put it in place: {exc.strerror or exc}") from None


class TableWriter:
    """Appends DataFrame chunks to one CSV or Parquet file, atomically.

    Used to stream large generated outputs without holding them in memory.
    """

    def __init__(self, path: str | os.PathLike[str], metadata: dict | None = None):
        """``metadata`` (JSON-able: how the rows were made) goes into the Parquet schema,
        or for CSV into ``<path>.meta.json`` beside it."""
        self.path = check_output_path(path)
        self.metadata = metadata
        self._ctx = atomic_path(self.path)
        self._tmp: Path | None = None
        self._parquet = None
        self._csv = None
        self._rows = 0

    def __enter__(self) -> TableWriter:
        self._tmp = self._ctx.__enter__()
        return self

    def write(self, chunk: pd.DataFrame) -> None:
        assert self._tmp is not None, "use TableWriter as a context manager"
        try:
            self._append(chunk)
        except OSError as exc:  # disk full, file system gone: name the output, not the temporary file
            raise self._error(exc) from None
        self._rows += len(chunk)

    def _error(self, exc: OSError) -> InputError:
        return InputError(f"output '{self.path}': cannot write it: {exc.strerror or exc}")

    def _append(self, chunk: pd.DataFrame) -> None:
        suffix = _suffix(self.path)
        if suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if self._parquet is None and self.metadata is not None:
                meta = dict(table.schema.metadata or {})
                meta[b"lookalike"] = json.dumps(self.metadata, default=str).encode()
                table = table.replace_schema_metadata(meta)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self._tmp, table.schema)
            else:
                table = table.cast(self._parquet.schema)
            self._parquet.write_table(table)
        else:
            self._write_csv(chunk, gzip=suffix == ".csv.gz")

    def _write_csv(self, chunk: pd.DataFrame, gzip: bool) -> None:
        """Arrow's CSV writer (7x faster than pandas'): chunks go to one open stream, the
        header with the first; gzip output is one stream, not one member per chunk."""
        import pyarrow as pa
        import pyarrow.csv as pacsv

        if self._csv is None:
            self._csv = pa.CompressedOutputStream(str(self._tmp), "gzip") if gzip else pa.OSFile(str(self._tmp), "wb")
        table = pa.Table.from_pandas(csv_ready(chunk), preserve_index=False)
        pacsv.write_csv(table, self._csv, pacsv.WriteOptions(include_header=self._rows == 0))

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            for stream in (self._parquet, self._csv):
                if stream is not None:
                    stream.close()
        except OSError as err:  # the last bytes could not be written
            self._ctx.__exit__(type(err), err, err.__traceback__)  # removes the temporary file
            if exc is None:
                raise self._error(err) from None
            return  # an error is already on its way out; it is the one to report
        self._ctx.__exit__(exc_type, exc, tb)
        if exc_type is None and self.metadata is not None and _suffix(self.path) != ".parquet":
            side = self.path.with_name(self.path.name + ".meta.json")
            with atomic_path(side) as tmp:
                tmp.write_text(json.dumps(self.metadata, indent=2, default=str))


def csv_ready(df: pd.DataFrame) -> pd.DataFrame:
    """The text a CSV should show, as pandas writes it: dates without a time when every time
    is midnight (else seconds, or microseconds when needed), True/False, any other object
    values as their ``str``; numbers and nulls as they are."""
    out = {}
    for name, col in df.items():
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            out[name] = col.astype("string")
        elif col.dtype.kind == "M":
            v = col.to_numpy("datetime64[ns]")
            ok = ~np.isnat(v)
            ns = (v[ok] - v[ok].astype("datetime64[D]")).astype(np.int64)
            unit = "D" if not (ns != 0).any() else "s" if not (ns % 10**9 != 0).any() else "us"
            text = np.char.replace(np.datetime_as_string(v, unit=unit), "T", " ").astype(object)
            text[~ok] = None
            out[name] = text
        elif col.dtype.kind == "b" or isinstance(col.dtype, pd.BooleanDtype):
            out[name] = col.map({True: "True", False: "False"}).astype(object)
        elif col.dtype == object:
            out[name] = col.map(lambda x: x if x is None or isinstance(x, str) or (isinstance(x, float) and x != x) else str(x))
        else:
            out[name] = col
    return pd.DataFrame(out, index=df.index)


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write ``df`` to CSV/Parquet at ``path`` atomically; return the path."""
    with TableWriter(path) as w:
        w.write(df)
    return w.path
