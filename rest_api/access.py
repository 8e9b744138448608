"""Who may call each REST operation, checked in one middleware.

Every operation declares an :class:`Access` where it is registered
(``rest_api/registry.py``); mounting refuses an operation without one, so a
new route cannot ship unchecked. The middleware verifies the bearer token
once per request, refuses what the declaration alone decides (401, an
admin route, a command without the permission anywhere: 403) and leaves
the principal on the request; handlers then narrow to objects: lists show
only permitted objects, another group's object is 404, a visible object
without the permission is 403. Every change (a non-GET operation that is
not public) is written to the audit log with its outcome.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from fleetcore.auth import Authenticator, Permission, Principal
from fleetcore.errors import Unauthorized
from fleetcore.log import audit_logger
from fleetcore.map_images import MapImageUrls
from fleetcore.metrics import AUTH_FORBIDDEN
from fleetcore.store import models as db
from rest_api.responses import JSON

AUTH_KEY = web.AppKey("rest_api_authenticator", Authenticator)
PRINCIPAL_KEY = web.RequestKey("rest_api_principal", Principal)
AUDIT_DETAIL_BYTES = 4096
"""The start of a change's body kept in the audit log; enough to say what was asked."""


@dataclass(frozen=True, slots=True)
class Access:
    """Who may call an operation, before the handler narrows it to objects."""

    public: bool = False
    """No token needed (health, metrics, documentation, logging in)."""
    admin: bool = False
    """Only administrators."""
    permission: Permission | None = None
    """The permission the handler filters or checks objects with."""
    required: bool = False
    """403 at once unless the principal holds ``permission`` on something (commands)."""

    def allows(self, principal: Principal) -> bool:
        if self.admin:
            return principal.is_admin
        if self.required and self.permission is not None:
            return principal.holds(self.permission)
        return True

    @property
    def statuses(self) -> tuple[int, ...]:
        """The auth errors this operation can answer, for the OpenAPI document."""
        if self.public:
            return ()
        return (401, 403) if self.admin or self.required else (401,)

    def describe(self) -> str:
        if self.public:
            return "No authentication."
        if self.admin:
            return "Requires an administrator."
        if self.permission is None:
            return "Requires any authenticated user."
        if self.required:
            return f"Requires `{self.permission}` on the objects concerned."
        return f"Lists and shows only the objects the user has `{self.permission}` on."


PUBLIC = Access(public=True)
AUTHENTICATED = Access()
ADMIN = Access(admin=True, permission=Permission.admin)


def reads(permission: Permission) -> Access:
    """A read: objects outside the user's grants are left out of lists, or 404."""
    return Access(permission=permission)


def commands(permission: Permission) -> Access:
    """A command: 403 without ``permission`` anywhere; the handler checks the object."""
    return Access(permission=permission, required=True)


def principal_of(request: web.Request) -> Principal:
    """The principal the middleware authenticated for this (non-public) operation."""
    return request[PRINCIPAL_KEY]


def forbidden(detail: str) -> web.HTTPForbidden:
    return web.HTTPForbidden(text=orjson.dumps({"detail": detail}).decode(), content_type=JSON)


def admit(access: Access, principal: Principal, operation_id: str) -> None:
    """Raise the 403 of ``operation_id`` when its declaration alone refuses ``principal``.

    The middleware's check of every REST operation, and GraphQL's of the mutation doing
    the same, so both front doors refuse the same users in the same words.
    """
    if not access.allows(principal):
        AUTH_FORBIDDEN.labels(operation_id).inc()
        raise forbidden(f"{principal.username} may not {operation_id}")


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def unauthorized(exc: Unauthorized) -> web.Response:
    """401 naming the reason, in the body and in RFC 6750's WWW-Authenticate."""
    error = "invalid_request" if exc.reason == "missing_token" else "invalid_token"
    return web.Response(
        body=orjson.dumps({"detail": exc.reason}),
        status=401,
        content_type=JSON,
        headers={"WWW-Authenticate": f'Bearer error="{error}", error_description="{exc.reason}"'},
    )


@dataclass(frozen=True, slots=True)
class UrlAccess:
    """How a request for a file behind a signed URL got in."""

    principal: Principal | None
    """The bearer's; None when the URL's signature was the permission."""
    max_age: int
    """How long the answer may be cached: while the signed URL works, else not at all."""


async def signed_or_bearer(request: web.Request, urls: MapImageUrls) -> UrlAccess | web.Response:
    """Let in a URL ``urls`` signed (an ``<img>`` or ``<video>`` sends no token) or a bearer
    token; the 401 to answer otherwise."""
    expires = request.query.get("expires", "")
    if urls.verify(request.path, expires, request.query.get("signature", "")):
        return UrlAccess(None, max(0, int(expires) - int(time.time())))
    try:
        return UrlAccess(await request.app[AUTH_KEY].principal(bearer_token(request)), 0)
    except Unauthorized as exc:
        return unauthorized(exc)


@dataclass(frozen=True, slots=True)
class Guarded:
    """What the middleware needs to know of one mounted operation."""

    operation_id: str
    method: str
    access: Access


def middleware(operations: Mapping[object, Guarded]) -> web.middleware:  # type: ignore[valid-type]
    """The one place tokens are verified; routes that are not operations (socket.io, ingest) pass."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        guarded = operations.get(request.match_info.handler)
        if guarded is None or guarded.access.public:
            return await handler(request)
        try:
            principal = await request.app[AUTH_KEY].principal(bearer_token(request))
        except Unauthorized as exc:
            return unauthorized(exc)
        request[PRINCIPAL_KEY] = principal
        audited = guarded.method != "get"
        try:
            admit(guarded.access, principal, guarded.operation_id)
        except web.HTTPForbidden as refusal:
            if audited:
                await _audit(request, guarded, principal, refusal.status)
            raise
        if not audited:
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            await _audit(request, guarded, principal, exc.status)
            raise
        except Exception:
            await _audit(request, guarded, principal, 500)
            raise
        await _audit(request, guarded, principal, response.status)
        return response

    return authenticate


async def _audit(request: web.Request, guarded: Guarded, principal: Principal, status: int) -> None:
    """Record who did what, when, and how it ended; the body read by the handler is cached."""
    try:
        body = await request.read()
    except web.HTTPException:
        body = b""
    detail = {
        "method": request.method,
        "query": request.query_string,
        "body": _redacted(body)[:AUDIT_DETAIL_BYTES].decode(errors="replace"),
        "idempotency_key": request.headers.get("Idempotency-Key"),
    }
    await record_audit(principal, guarded.operation_id, request.path, detail, status)


async def record_audit(
    principal: Principal, action: str, target: str, detail: dict[str, Any], status: int
) -> None:
    """One change in the audit log (REST's operations, GraphQL's mutations), by its HTTP status."""
    await db.AuditEntry.create(
        unix_millis_time=time.time_ns() // 1_000_000,
        username=principal.username,
        action=action,
        target=target[:512],
        detail=orjson.dumps(detail).decode(),
        status=status,
    )
    audit_logger.info("%s %s %s -> %d", principal.username, action, target, status)


def _redacted(body: bytes) -> bytes:
    """The body without any password in it: an audit log is read by more people than admins."""
    if b"password" not in body:
        return body
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return b"(not JSON; withheld: it mentions a password)"
    if isinstance(value, dict) and "password" in value:
        value["password"] = "***"
    return orjson.dumps(value)
