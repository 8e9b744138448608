"""What every browser-facing fleethub server checks before a handler runs: Origin, CORS, body size.

**Origin.** A browser names the page that makes a request in ``Origin``
(websocket handshakes included, which CORS does not protect). A request
whose origin is none of ``settings.allowed_origins``, the origin of
``settings.public_url``, localhost, or the server's own address when that is
an IP address, is refused with 403 before any handler, and counted; ``*``
allows every origin but is never the default. Requests without ``Origin``
(scripts, fleet adapters, other servers) are not browsers' and pass.

An origin is *not* accepted because it names the host the request came to:
that is what DNS rebinding forges (a page at ``http://evil.example`` whose
name the attacker then points at this server sends ``Host: evil.example``
too). A server reached by name must be told its name (``public_url`` or
``allowed_origins``); one reached by IP address needs nothing, as a
rebinding page can never be at an IP address.

**CORS.** An allowed cross-origin request gets ``Access-Control-Allow-Origin``
for its origin (never ``*``) and a preflight is answered here. socket.io
paths are left to engine.io, which answers its own preflights with the same
:class:`OriginPolicy` (:meth:`OriginPolicy.engineio`).

**Malformed requests.** aiohttp logs a request it cannot parse at ERROR
with a traceback whose message quotes the raw bytes it read, which may hold
a password or a token (:class:`MalformedRequestFilter`). Any client can
send one, so it is no news for a human: it is logged at INFO as one line
naming the error but not the bytes, and counted (``malformed_request``).

**Size.** A body over ``api_max_body_bytes`` (socket.io long-polling:
``socket_max_message_bytes``) is refused with 413 from its Content-Length,
or, sent in chunks, once read; counted. A media upload's PATCH is streamed to
disk and limited by its upload (``rest_api/tus.py``), so it is left alone.

The CORS part is written out rather than taken from aiohttp-cors: that one
registers per route and cannot share an app with engine.io's routes, and it
neither refuses nor counts a bad origin.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from aiohttp import hdrs, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler, Middleware

from fleetcore import metrics
from fleetcore.errors import ConfigError
from fleetcore.log import api_logger
from fleetcore.media import MEDIA_UPLOADS_PATH
from fleetcore.settings import Settings

SOCKETIO_PATH = "/socket.io"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""A dashboard under development (e.g. on a vite dev server) may call a local fleethub."""
ALLOWED_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
EXPOSED_HEADERS = (
    "X-Fleethub-Seq, X-Fleethub-Epoch, Retry-After, Location, Upload-Offset, Upload-Length, "
    "Upload-Metadata, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Content-Range, ETag"
)
"""Headers a cross-origin script may read: the snapshot position (see the README), back-off,
and what a tus client (a browser uploading media) and a ranged download need."""
PREFLIGHT_MAX_AGE_S = "600"


def _normalized(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case, or None when ``origin`` is not one."""
    parts = urlsplit(origin.strip().lower())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        return None
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    """Which browser origins may call this server."""

    allowed: frozenset[str]
    any_origin: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> OriginPolicy:
        """The policy of ``settings.allowed_origins``; :class:`ConfigError` names a malformed entry."""
        allowed: set[str] = set()
        public = _normalized(_origin_of(settings.public_url)) if settings.public_url else None
        if public is not None:
            allowed.add(public)
        for entry in settings.allowed_origins:
            if entry == "*":
                api_logger.warning("allowed_origins contains '*': any web page may call fleethub")
                return cls(frozenset(), any_origin=True)
            normalized = _normalized(entry)
            if normalized is None:
                raise ConfigError(
                    f"FLEETHUB_ALLOWED_ORIGINS: {entry!r} is not an origin like https://host[:port]"
                )
            allowed.add(normalized)
        return cls(frozenset(allowed))

    def allows(self, origin: str, hosts: tuple[str, ...]) -> bool:
        """Whether a page at ``origin`` may call a server reached under any of ``hosts``."""
        if self.any_origin:
            return True
        normalized = _normalized(origin)
        if normalized is None:
            return False  # "null" (sandboxed frames, file://) and anything malformed
        if normalized in self.allowed:
            return True
        netloc = urlsplit(normalized)
        if netloc.hostname in LOCAL_HOSTS:
            return True
        return _is_ip_address(netloc.hostname) and any(
            netloc.netloc == host.strip().lower() for host in hosts if host
        )

    def engineio(self, origin: str | None, environ: Mapping[str, Any]) -> bool:
        """engine.io's ``cors_allowed_origins`` callable: the same decision for socket.io.

        engine.io also asks without an origin (for its CORS headers): no origin, no headers.
        """
        return origin is not None and self.allows(origin, _environ_hosts(environ))


def _origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL that may have a path (``public_url``)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}"


def _is_ip_address(hostname: str | None) -> bool:
    try:
        ipaddress.ip_address(hostname or "")
    except ValueError:
        return False
    return True


def _environ_hosts(environ: Mapping[str, Any]) -> tuple[str, ...]:
    forwarded = str(environ.get("HTTP_X_FORWARDED_HOST", "")).split(",")[0]
    return (str(environ.get("HTTP_HOST", "")), forwarded)


def _request_hosts(request: web.Request) -> tuple[str, ...]:
    """The host the browser used: ``Host``, or ``X-Forwarded-Host`` behind a proxy that rewrites it."""
    forwarded = request.headers.get("X-Forwarded-Host", "").split(",")[0]
    return (request.headers.get(hdrs.HOST, ""), forwarded)


def _refusal(status: int, reason: str, detail: str) -> web.Response:
    metrics.HTTP_REJECTED.labels(reason).inc()
    return web.Response(
        status=status, body=orjson.dumps({"detail": detail}), content_type="application/json"
    )


def _cors_headers(origin: str) -> dict[str, str]:
    return {
        hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
        hdrs.ACCESS_CONTROL_EXPOSE_HEADERS: EXPOSED_HEADERS,
        hdrs.VARY: hdrs.ORIGIN,
    }


def _preflight(request: web.Request, origin: str) -> web.Response:
    headers = {
        **_cors_headers(origin),
        hdrs.ACCESS_CONTROL_ALLOW_METHODS: ALLOWED_METHODS,
        hdrs.ACCESS_CONTROL_MAX_AGE: PREFLIGHT_MAX_AGE_S,
    }
    requested = request.headers.get(hdrs.ACCESS_CONTROL_REQUEST_HEADERS)
    if requested:
        headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = requested
    return web.Response(status=204, headers=headers)


def client_max_size(settings: Settings) -> int:
    """The ``client_max_size`` of an app serving REST and socket.io: the larger limit (the guard applies each)."""
    return max(settings.api_max_body_bytes, settings.socket_max_message_bytes)


class MalformedRequestFilter(logging.Filter):
    """Rewrites aiohttp's record of an unparsable request: INFO, no traceback, no raw bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            metrics.HTTP_REJECTED.labels("malformed_request").inc()
            record.msg = "malformed request refused (%s %d)"
            record.args = (type(exc).__name__, exc.code)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def _filter_malformed_requests() -> None:
    server_logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequestFilter) for f in server_logger.filters):
        server_logger.addFilter(MalformedRequestFilter())


def guard_middleware(settings: Settings) -> Middleware:
    """The aiohttp middleware that applies the module's checks; put it first.

    Also keeps raw request bytes out of aiohttp's log (:class:`MalformedRequestFilter`).
    """
    _filter_malformed_requests()
    policy = OriginPolicy.from_settings(settings)
    body_limit, socket_limit = settings.api_max_body_bytes, settings.socket_max_message_bytes

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is not None and not policy.allows(origin, _request_hosts(request)):
            return _refusal(
                403,
                "origin_not_allowed",
                f"origin {origin} is not allowed; add it to FLEETHUB_ALLOWED_ORIGINS",
            )
        socketio = request.path.startswith(SOCKETIO_PATH)
        limit = socket_limit if socketio else body_limit
        # A media upload's body is streamed to disk by its handler, held to the upload's length.
        streamed = request.method == hdrs.METH_PATCH and request.path.startswith(MEDIA_UPLOADS_PATH)
        if not streamed and request.content_length is not None and request.content_length > limit:
            return _refusal(413, "body_too_large", f"the request body is over {limit} bytes")
        if not streamed and request.content_length is None and request.body_exists and not socketio:
            # Chunked: read it now (the handler gets it from aiohttp's cache), up to the
            # app's client_max_size, which may be above this path's limit.
            try:
                size = len(await request.read())
            except web.HTTPRequestEntityTooLarge:
                size = limit + 1
            if size > limit:
                return _refusal(413, "body_too_large", f"the request body is over {limit} bytes")
        cors_origin = None if socketio else origin
        if (
            cors_origin is not None
            and request.method == hdrs.METH_OPTIONS
            and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        ):
            return _preflight(request, cors_origin)
        try:
            response = await handler(request)
        except web.HTTPRequestEntityTooLarge:
            return _refusal(413, "body_too_large", f"the request body is over {limit} bytes")
        except web.HTTPException as exc:
            if cors_origin is not None:
                exc.headers.update(_cors_headers(cors_origin))
            raise
        if cors_origin is not None and not response.prepared:
            response.headers.update(_cors_headers(cors_origin))
        return response

    return guard


__all__ = ["MalformedRequestFilter", "OriginPolicy", "client_max_size", "guard_middleware"]
