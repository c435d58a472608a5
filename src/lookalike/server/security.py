"""Request guards, as plain ASGI middleware (cheap on every request): the API token, an
upload size limit, and a same-origin check against cross-site requests to a local server."""

from __future__ import annotations

import hmac
import ipaddress
import json
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from starlette.exceptions import HTTPException

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})  # bound to every address: no single name of its own
PUBLIC_PATHS = ("/", "/favicon.ico")  # the UI shell holds no data; it asks for the token
PUBLIC_PREFIXES = ("/static/",)
COOKIE = "lookalike_token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def is_local(host: str) -> bool:
    """Whether binding to ``host`` keeps the server on this machine (a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_host_names(bind_host: str, allowed: tuple[str, ...] | list[str], token: bool) -> frozenset[str] | None:
    """Host names requests may carry: localhost, 127.0.0.1, ::1, the address the server is
    bound to and the configured ``allowed`` ones. None (any) only for a server with a token
    bound to every address and no names configured: its clients' names are unknown, the
    token guards it."""
    bind = _host_name(bind_host) if bind_host.strip("[]") not in WILDCARDS else None
    if token and bind is None and not allowed:
        return None
    names = set(LOCAL_HOSTS) | {n for n in (_host_name(a) for a in allowed) if n}
    if bind:
        names.add(bind)
    return frozenset(names)


def _host_name(host: str) -> str | None:
    """The name in a Host header or setting (no port, no brackets, lower case); None if malformed."""
    try:
        return urlsplit(f"//{host.strip()}").hostname or None
    except ValueError:
        return None


async def _send_json(send, status: int, detail: str, headers: list | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """Token (when configured), same-origin for state-changing requests, body size limit."""

    def __init__(self, app, token: str | None, max_body_bytes: int, hosts: frozenset[str] | None = LOCAL_HOSTS):
        self.app = app
        self.token = token
        self.max_body = max_body_bytes
        self.hosts = hosts  # None: any (see allowed_host_names)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        path = scope["path"]
        if self.hosts is not None and _host_name(headers.get("host", "")) not in self.hosts:
            # a page from another site whose name resolves to us (DNS rebinding) is refused
            return await _send_json(send, 403, "this server answers only to the host names it was started with "
                                               "(localhost addresses, its bind address, allowed_hosts)")
        if self.token is not None and not (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)):
            if not self._token_ok(headers):
                return await _send_json(send, 401, "missing or wrong API token; send 'Authorization: Bearer TOKEN'",
                                        [(b"www-authenticate", b"Bearer")])
        if scope["method"] in UNSAFE and "origin" in headers:
            origin = urlsplit(headers["origin"]).netloc
            if origin != headers.get("host", ""):
                return await _send_json(send, 403, f"cross-origin request from {headers['origin']} refused")
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            return await _send_json(send, 413, self._too_big())
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise HTTPException(413, self._too_big())
            return message

        await self.app(scope, counted_receive, send)

    def _too_big(self) -> str:
        return f"upload too large: the limit is {self.max_body / 1e6:g} MB"

    def _token_ok(self, headers: dict[str, str]) -> bool:
        given = None
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        elif "x-lookalike-token" in headers:
            given = headers["x-lookalike-token"]
        elif "cookie" in headers:
            try:
                morsel = SimpleCookie(headers["cookie"]).get(COOKIE)
            except CookieError:
                morsel = None
            given = morsel.value if morsel else None
        return given is not None and hmac.compare_digest(given.encode(), self.token.encode())
