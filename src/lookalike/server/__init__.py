"""The local web app and REST API: ``lookalike serve``.

    from lookalike.server import create_app
    app = create_app("lookalike-data")          # FastAPI app; OpenAPI docs at /docs

Routes are thin over the public API; training, generation and reports run as jobs in
separate processes, recorded in SQLite inside the data dir.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from ..errors import ConfigError

__all__ = ["create_app", "run"]

log = logging.getLogger("lookalike.server")


def create_app(data_dir: str | os.PathLike[str], token: str | None = None, **options):
    """The FastAPI app over ``data_dir``; see ``lookalike.server.app.create_app``."""
    try:
        from .app import create_app as _create_app
    except ImportError as exc:
        raise ConfigError(f"the web app needs the server extra ({exc.name} is missing): "
                          "pip install 'lookalike[server]'") from None
    return _create_app(Path(data_dir), token=token, **options)


def run(host: str = "127.0.0.1", port: int = 8000, data_dir: str | os.PathLike[str] = "lookalike-data",
        token: str | None = None, **settings) -> None:
    """Serve the app until interrupted. Binding beyond localhost requires ``token``.
    ``settings``: fields of ``ServerSettings`` (limits, ``allowed_hosts``)."""
    from .security import is_local

    if not is_local(host) and not token:
        raise ConfigError(f"binding to {host} exposes the API beyond this machine; pass --token TOKEN "
                          "(or set LOOKALIKE_TOKEN), or bind to 127.0.0.1")
    app = create_app(data_dir, token=token or None, host=host, **settings)
    import uvicorn

    shown = f"[{host}]" if ":" in host else host
    log.info("lookalike: serving http://%s:%d/ (API docs at /docs, data in %s)", shown, port, Path(data_dir).resolve())
    uvicorn.run(app, host=host, port=port, log_level="warning")
