"""The FastAPI application: error mapping, guards, the background job runner, the UI."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import ConfigError, LookalikeError
from .related import router as related_router
from .routes import router
from .runner import JobRunner
from .security import GuardMiddleware, allowed_host_names
from .store import Store
from .tasks import Paths
from .uploads import Parsers

log = logging.getLogger("lookalike.server")

STATIC = Path(__file__).parent / "static"
MULTIPART_SLACK = 16 * 1024  # form boundaries and headers around the file


@dataclass(frozen=True)
class ServerSettings:
    """The server's limits and who it answers to; ``create_app(..., **fields)`` sets them.
    Uploads are untrusted: each limit turns a hostile or oversized file into a 4xx."""

    max_upload_bytes: int = 200_000_000  # one uploaded file, as sent
    max_table_bytes: int = 1_000_000_000  # an uploaded table after decompression (gzip, Parquet)
    max_columns: int = 5_000  # columns of an uploaded table
    max_parse_memory_bytes: int = 4_000_000_000  # memory of the process that parses an upload
    parse_timeout_s: float = 300.0  # time that process may take
    max_model_bytes: int = 2_000_000_000  # an uploaded model file after decompression
    host: str = "127.0.0.1"  # the address the server is bound to: a Host header it answers to
    allowed_hosts: tuple[str, ...] = ()  # other host names it answers to (a reverse proxy's name)

    def __post_init__(self) -> None:
        for name in ("max_upload_bytes", "max_table_bytes", "max_columns", "max_parse_memory_bytes",
                     "parse_timeout_s", "max_model_bytes"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"server setting {name} must be positive, got {getattr(self, name)!r}")
        object.__setattr__(self, "allowed_hosts", tuple(self.allowed_hosts))


@dataclass
class Context:
    """What every route needs; one per app, at ``app.state.lookalike``."""

    store: Store
    paths: Paths
    runner: JobRunner
    settings: ServerSettings
    token_required: bool
    parsers: Parsers

    @property
    def max_upload_bytes(self) -> int:
        return self.settings.max_upload_bytes


def create_app(data_dir: str | Path, token: str | None = None, *, settings: ServerSettings | None = None,
               **options) -> FastAPI:
    """The web app and REST API over the files and SQLite metadata in ``data_dir``.
    With ``token``, every API request must carry it (``Authorization: Bearer TOKEN``).
    ``options`` are fields of ``ServerSettings`` (limits, ``host``, ``allowed_hosts``).
    The job runner starts and stops with the app (use ``TestClient`` as a context manager)."""
    unknown = set(options) - set(ServerSettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"unknown server setting(s) {', '.join(sorted(unknown))}; "
                          f"use {', '.join(ServerSettings.__dataclass_fields__)}")
    settings = replace(settings or ServerSettings(), **options)
    paths = Paths(data_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    store = Store(paths.db)
    store.init()
    ctx = Context(store, paths, JobRunner(store, paths), settings, token is not None, Parsers())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx.runner.start()
        ctx.parsers.start()
        try:
            yield
        finally:
            ctx.parsers.close()
            ctx.runner.stop()

    app = FastAPI(title="lookalike", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Local synthetic data: upload a table, train a model, generate look-alike rows, "
                              "download them, read the QA report. Related tables: upload each, link them in a "
                              "schema (`/api/schemas`), train it. Long work runs as jobs: poll `/api/jobs/{id}`.")
    app.state.lookalike = ctx
    app.include_router(router)
    app.include_router(related_router)
    app.add_middleware(GuardMiddleware, token=token, max_body_bytes=settings.max_upload_bytes + MULTIPART_SLACK,
                       hosts=allowed_host_names(settings.host, settings.allowed_hosts, token is not None))

    @app.exception_handler(LookalikeError)
    async def _lookalike_error(request: Request, exc: LookalikeError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException):
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            where = ".".join(str(x) for x in e["loc"] if x != "body") or "request"
            problems.append(f"{where}: {e['msg']}")
        return JSONResponse({"detail": "; ".join(problems)}, status_code=422)

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; the server log has the details"}, status_code=500)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/docs", include_in_schema=False)
    def docs():  # our own page over /openapi.json: no CDN (FastAPI's Swagger page loads from one)
        return FileResponse(STATIC / "docs.html", headers={"cache-control": "no-cache"})

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    return app
