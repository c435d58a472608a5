"""Uploaded tables are untrusted input: saved in chunks (never whole in memory), their size
checked after decompression too, and parsed in a separate process whose memory and time
are capped, so a hostile file costs a 4xx, never the server.

    save_upload(file, dest, suffix, settings)   # 413 past the limits, 415 for the wrong bytes
    parsers.inspect(dest, "people.csv", settings) # rows, columns, preview: parsed in a child process
    parsers.check_tables(tables, settings)        # related tables: keys proposed and validated there too
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import zlib
from pathlib import Path
from typing import Any

from fastapi import HTTPException, UploadFile

COPY_CHUNK = 1 << 20
PREVIEW_ROWS = 20
HEADER_SCAN_BYTES = 16 * 2**20  # a CSV header longer than this is not a table's header

# The parsing process: a fresh interpreter (nothing of the server: its threads, its
# ``__main__``) with the server's ``sys.path``; it caps its own memory first.
HELPER = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
          "from lookalike.server.uploads import _child; _child()")


def save_upload(file: UploadFile, dest: Path, suffix: str, settings, table: bool = True) -> int:
    """Copy the upload to ``dest`` in chunks; 413 past ``max_upload_bytes`` or, for a table,
    past ``max_table_bytes`` after decompression (gzip: checked as it streams, so a bomb
    stops early; Parquet: when it is parsed)."""
    limit = settings.max_table_bytes if table else settings.max_upload_bytes
    size = 0
    inflate = _Inflated(settings.max_table_bytes) if suffix == ".csv.gz" else None
    with open(dest, "wb") as fh:
        while chunk := file.file.read(COPY_CHUNK):
            size += len(chunk)
            if size > settings.max_upload_bytes:
                raise HTTPException(413, f"upload too large: the limit is {settings.max_upload_bytes / 1e6:g} MB")
            if size > limit:
                raise HTTPException(413, _too_big_table(settings))
            if inflate is not None:
                inflate.feed(chunk, settings)
            fh.write(chunk)
    if size == 0:
        raise HTTPException(400, f"'{file.filename}' is empty")
    if inflate is not None and not inflate.done:
        raise HTTPException(400, f"'{file.filename}': the gzip data is cut short; upload the whole file")
    return size


class _Inflated:
    """Counts the bytes a (multi-member) gzip stream inflates to, chunk by chunk."""

    def __init__(self, limit: int):
        self.limit, self.total, self.done = limit, 0, False
        self._d = zlib.decompressobj(wbits=31)

    def feed(self, data: bytes, settings) -> None:
        try:
            while data:
                self.total += len(self._d.decompress(data, COPY_CHUNK))
                if self.total > self.limit:
                    raise HTTPException(413, _too_big_table(settings, "decompressed "))
                if self._d.eof:  # the next member (or trailing bytes) starts here
                    data, self._d = self._d.unused_data, zlib.decompressobj(wbits=31)
                    self.done = not data
                else:
                    data, self.done = self._d.unconsumed_tail, False
        except zlib.error as exc:
            raise HTTPException(400, f"the file is not valid gzip data ({exc}); upload a .csv.gz made by gzip") from None


def _too_big_table(settings, how: str = "") -> str:
    return (f"table too large: {how}it is over this server's limit of {settings.max_table_bytes / 1e6:g} MB "
            "(max_table_bytes); upload a sample of the rows")


def check_content(path: Path, suffix: str) -> None:
    """The bytes must match the name: Parquet magic, gzip magic, or text for CSV."""
    with open(path, "rb") as fh:
        head = fh.read(65536)
    if suffix in (".parquet", ".pq"):
        ok = head[:4] == b"PAR1"
    elif suffix == ".csv.gz":
        ok = head[:2] == b"\x1f\x8b"
    else:
        ok = b"\x00" not in head
        if ok and not _is_utf8(head):
            raise HTTPException(415, "the file is not UTF-8 text; save the CSV with UTF-8 encoding")
    if not ok:
        raise HTTPException(415, f"the file's content does not look like {suffix} data")


def _is_utf8(head: bytes) -> bool:
    for cut in range(4):  # the sample may end inside a multi-byte character
        try:
            head[: len(head) - cut].decode("utf-8")
            return True
        except UnicodeDecodeError:
            continue
    return False


class Parsers:
    """Where uploads are parsed: one process per upload, each a fresh interpreter that has
    imported the readers already (one is started ahead, so an upload does not wait for it)."""

    def __init__(self) -> None:
        self._spare: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._spare is None:
                self._spare = self._new()

    def close(self) -> None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None:
            spare.kill()
            spare.wait()

    @staticmethod
    def _new() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", HELPER, json.dumps(sys.path)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

    def _take(self) -> subprocess.Popen:
        with self._lock:
            proc, self._spare = self._spare or self._new(), self._new()
        return proc

    def inspect(self, path: Path, name: str, settings, types: dict[str, str] | None = None) -> dict[str, Any]:
        """Parse the table at ``path`` in a child process capped at ``max_parse_memory_bytes``
        and ``parse_timeout_s``: {"rows", "columns" (the inferred schema's), "preview"}.
        With ``types``, the overrides are checked against the data too. 4xx when it cannot."""
        order = {"path": str(path), "name": name, "types": types, "max_columns": settings.max_columns,
                 "max_table_bytes": settings.max_table_bytes, "memory": settings.max_parse_memory_bytes}
        return self._ask(order, f"'{name}'", settings)

    def check_tables(self, tables: list[dict[str, Any]], settings, drop_orphans: bool = False) -> dict[str, Any]:
        """Related tables, in a child process with the same caps: the engine reads every
        table (``tables``: table specs with ``path`` for the data and ``shown``, the name to
        show for it), proposes the keys left open and validates the whole schema.
        {"tables": specs with keys filled in, "proposed": {table: [fields]}, "orphans":
        {table: rows dropped}}; a 400 listing every problem otherwise."""
        order = {"task": "tables", "tables": tables, "drop_orphans": drop_orphans,
                 "memory": settings.max_parse_memory_bytes}
        return self._ask(order, "the tables", settings)

    def _ask(self, order: dict[str, Any], name: str, settings) -> dict[str, Any]:
        proc = self._take()
        try:
            out, _ = proc.communicate(json.dumps(order).encode() + b"\n", timeout=settings.parse_timeout_s)
        except subprocess.TimeoutExpired:
            raise HTTPException(413, f"reading {name} takes longer than {settings.parse_timeout_s:g} s "
                                     "(parse_timeout_s); upload a smaller table") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        lines = out.decode(errors="replace").strip().splitlines()
        answer = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
        if answer is None:  # killed (out of memory) or crashed before it could answer
            raise HTTPException(413, f"{name} cannot be read within this server's memory limit of "
                                     f"{settings.max_parse_memory_bytes / 1e9:g} GB (max_parse_memory_bytes); "
                                     "upload a smaller table")
        if "error" in answer:
            raise HTTPException(answer["status"], answer["error"])
        return answer


# --- the child process ------------------------------------------------------------------------
def _child() -> None:
    """Wait for one order (a JSON line), parse that table under a memory cap and print one
    JSON line: the result or the error."""
    import os
    import resource

    os.environ.update({"OMP_NUM_THREADS": "1", "ARROW_NUM_THREADS": "1"})  # fewer threads, less memory reserved
    import lookalike.io  # noqa: F401  (imported ahead, while no upload waits)
    import lookalike.schema  # noqa: F401

    line = sys.stdin.readline()
    if not line:
        return  # the server closed without using this process
    order = json.loads(line)
    if order.get("task") == "tables":  # the engine's package imports torch: before the cap, which is for the data
        import lookalike.relational.spec  # noqa: F401
    resource.setrlimit(resource.RLIMIT_AS, (order["memory"], order["memory"]))
    order.setdefault("name", "the tables")
    try:
        answer = _check_tables(order) if order.get("task") == "tables" else _parse(order)
    except MemoryError:
        answer = {"status": 413, "error": f"'{order['name']}' needs more memory to read than this server allows "
                                          f"({order['memory'] / 1e9:g} GB, max_parse_memory_bytes); "
                                          "upload a smaller table"}
    except _Refused as exc:
        answer = {"status": exc.status, "error": str(exc)}
    except Exception as exc:  # a LookalikeError names the problem; anything else is the file's fault too
        from lookalike.errors import LookalikeError

        detail = str(exc) if isinstance(exc, LookalikeError) else f"{exc.__class__.__name__}: {exc}"
        low = detail.lower()
        if "out of memory" in low or ("memory" in low and "alloc" in low):  # the parsers' own out-of-memory errors
            answer = {"status": 413, "error": f"'{order['name']}' needs more memory to read than this server "
                                              f"allows ({order['memory'] / 1e9:g} GB); upload a smaller table"}
        else:
            detail = " ".join(detail.split())
            for t in order.get("tables", [{"path": order.get("path"), "shown": order["name"]}]):
                detail = detail.replace(str(t["path"]), t["shown"])  # no server paths shown
            answer = {"status": 400, "error": detail[:2000]}
    sys.stdout.write(json.dumps(answer, default=str) + "\n")
    sys.stdout.flush()


class _Refused(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _parse(order: dict[str, Any]) -> dict[str, Any]:
    from lookalike.io import read_table
    from lookalike.schema import infer_schema

    path, name = Path(order["path"]), order["name"]
    n_cols = _count_columns(path, order)
    if n_cols > order["max_columns"]:
        raise _Refused(413, f"'{name}' has {n_cols:,} columns, more than this server's limit of "
                            f"{order['max_columns']:,} (max_columns); upload fewer columns")
    df = read_table(path, name)
    schema = infer_schema(df, order["types"], name=name)
    preview = json.loads(df.head(PREVIEW_ROWS).to_json(orient="records", date_format="iso"))
    return {"rows": len(df), "columns": [c.model_dump() for c in schema.columns], "preview": preview}


def _check_tables(order: dict[str, Any]) -> dict[str, Any]:
    """The engine's own steps, as ``lookalike.train(tables=...)`` takes them: parse the specs,
    check the names, read the tables, propose the keys left open, validate."""
    from lookalike.relational.spec import check_table_names, load_frames, parse_tables, propose_keys, validate

    given = [{k: v for k, v in t.items() if k not in ("path", "shown")} | {"data": t["path"]} for t in order["tables"]]
    specs, _ = parse_tables(given)
    check_table_names(specs)
    frames = load_frames(specs)
    open_fields = {s.name: [f for f in ("primary_key", "foreign_keys") if getattr(s, f) is None] for s in specs}
    propose_keys(specs, frames)
    orphans = validate(specs, frames, drop_orphans=order["drop_orphans"])
    return {
        "tables": [{**s.model_dump(mode="json", exclude={"data"}), "rows": len(frames[s.name]),
                    "columns": [str(c) for c in frames[s.name].columns]} for s in specs],
        "proposed": {s.name: [f for f in open_fields[s.name] if getattr(s, f) not in (None, [])] for s in specs},
        "orphans": orphans,
    }


def _count_columns(path: Path, order: dict[str, Any]) -> int:
    """Columns, from Parquet's footer or the CSV's header line, before the table is read;
    a Parquet file's own size after decompression is checked here too."""
    name = path.name
    if name.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(path).metadata
        except Exception as exc:
            raise _Refused(400, f"'{order['name']}' is not a readable Parquet file ({exc})") from None
        inflated = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if inflated > order["max_table_bytes"]:
            raise _Refused(413, f"table too large: '{order['name']}' is {inflated / 1e6:,.0f} MB decompressed, over "
                                f"this server's limit of {order['max_table_bytes'] / 1e6:g} MB (max_table_bytes)")
        return meta.num_columns
    import csv
    import gzip
    import io

    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as raw:
        head = raw.read(HEADER_SCAN_BYTES)
    line = head.split(b"\n", 1)[0]
    if len(line) == HEADER_SCAN_BYTES:
        raise _Refused(413, f"'{order['name']}': the header line is longer than {HEADER_SCAN_BYTES / 2**20:g} MB; "
                            "this is not a table's header")
    sep = "\t" if name.endswith(".tsv") else ","
    return len(next(csv.reader(io.StringIO(line.decode("utf-8", errors="replace")), delimiter=sep), []))
