"""The FastAPI application: error mapping, guards, the background job runner, the UI."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from .. import __version__
from ..errors import LookalikeError
from .routes import router
from .runner import JobRunner
from .security import GuardMiddleware
from .store import Store
from .tasks import Paths

log = logging.getLogger("lookalike.server")

STATIC = Path(__file__).parent / "static"
DEFAULT_MAX_UPLOAD_BYTES = 200_000_000
MULTIPART_SLACK = 16 * 1024  # form boundaries and headers around the file


@dataclass
class Context:
    """What every route needs; one per app, at ``app.state.lookalike``."""

    store: Store
    paths: Paths
    runner: JobRunner
    max_upload_bytes: int
    token_required: bool


def create_app(data_dir: str | Path, token: str | None = None, *,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> FastAPI:
    """The web app and REST API over the files and SQLite metadata in ``data_dir``.
    With ``token``, every API request must carry it (``Authorization: Bearer TOKEN``).
    The job runner starts and stops with the app (use ``TestClient`` as a context manager)."""
    paths = Paths(data_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    store = Store(paths.db)
    store.init()
    ctx = Context(store, paths, JobRunner(store, paths), max_upload_bytes, token is not None)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        ctx.runner.start()
        try:
            yield
        finally:
            ctx.runner.stop()

    app = FastAPI(title="lookalike", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Local synthetic data: upload a table, train a model, generate look-alike rows, "
                              "download them, read the QA report. Long work runs as jobs: poll `/api/jobs/{id}`.")
    app.state.lookalike = ctx
    app.include_router(router)
    app.add_middleware(GuardMiddleware, token=token, max_body_bytes=max_upload_bytes + MULTIPART_SLACK)

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
