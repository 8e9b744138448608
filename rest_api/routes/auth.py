"""Logging in (embedded users) and who am I: ``POST /auth/token``, ``GET /user``, ``GET /permissions``.

``/user`` and ``/permissions`` are rmf-web's: the user's name, admin flag
and roles, and the (authz group, action) pairs their roles grant.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fleetcore.auth.users import user_info
from fleetcore.errors import ConfigError, Unauthorized
from fleetcore.metrics import LOGINS_THROTTLED
from fleetcore.store import models as db
from rest_api.access import AUTH_KEY, AUTHENTICATED, PUBLIC, principal_of, unauthorized
from rest_api.login_throttle import LOGIN_THROTTLE_KEY
from rest_api.query import parse_body
from rest_api.registry import ApiRoutes
from rest_api.responses import JSON, json_body, not_found, unprocessable

routes = ApiRoutes("Authentication")

FORM = "application/x-www-form-urlencoded"


class LoginRequest(BaseModel):
    """An embedded user's credentials (JSON, or an OAuth2 password-grant form)."""

    model_config = ConfigDict(extra="ignore")

    username: Annotated[str, Field(min_length=1, max_length=256)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class TokenResponse(BaseModel):
    """A bearer token; send it as ``Authorization: Bearer <access_token>``."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int
    """Seconds until it expires; log in again before then."""


class User(BaseModel):
    """rmf-web's user: name, admin flag and role names."""

    username: str
    is_admin: bool
    roles: list[str]


class Permission(BaseModel):
    """rmf-web's permission: an action granted on an authz (security) group."""

    authz_grp: str
    action: str


async def _credentials(request: web.Request) -> LoginRequest:
    if request.content_type == FORM:
        form = await request.post()
        try:
            return LoginRequest.model_validate({k: str(v) for k, v in form.items()})
        except ValidationError as exc:
            raise unprocessable(
                [
                    {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                    for e in exc.errors(include_url=False, include_context=False)
                ]
            ) from None
    return await parse_body(LoginRequest, request)


@routes.route("post", "/auth/token", response=TokenResponse, errors=(401, 422, 429), access=PUBLIC)
async def post_token(request: web.Request) -> web.Response:
    """Log in as an embedded user: a bearer token for the username and password.

    Takes JSON or an OAuth2 password-grant form (``username``, ``password``).
    401 with ``bad_credentials`` for a wrong pair. With an OIDC provider
    configured (no HS256), tokens come from the provider instead: 404. An
    address trying one username too often (``login_attempts_per_min``) is
    answered 429; per username, so users behind one ingress do not share a limit.
    """
    credentials = await _credentials(request)
    wait = request.app[LOGIN_THROTTLE_KEY].wait(f"{request.remote}|{credentials.username}")
    if wait > 0:
        LOGINS_THROTTLED.inc()
        raise web.HTTPTooManyRequests(
            text='{"detail": "too many login attempts from this address"}',
            content_type=JSON,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    authenticator = request.app[AUTH_KEY]
    try:
        token, ttl = await authenticator.login(credentials.username, credentials.password)
    except Unauthorized as exc:
        return unauthorized(exc)
    except ConfigError as exc:
        raise not_found(str(exc)) from None
    answer = json_body(TokenResponse(access_token=token, expires_in=int(ttl)).model_dump())
    answer.headers["Cache-Control"] = "no-store"
    return answer


routes._operations[-1] = replace(routes._operations[-1], body=LoginRequest)


@routes.get("/user", response=User, access=AUTHENTICATED)
async def get_user(request: web.Request) -> web.Response:
    """The logged-in user: name, admin flag and roles."""
    return json_body(await user_view(principal_of(request).username))


async def user_view(username: str) -> dict[str, Any]:
    """rmf-web's User: name, admin flag and roles (REST ``/user``, GraphQL ``me``)."""
    stored = await db.User.get_or_none(username=username)
    if stored is None:
        # auth_mode "off": the anonymous administrator is in no store.
        return {"username": username, "is_admin": True, "roles": []}
    is_admin, roles = await user_info(username)
    return {"username": username, "is_admin": is_admin, "roles": roles}


@routes.get("/permissions", response=list[Permission], access=AUTHENTICATED)
async def get_permissions(request: web.Request) -> web.Response:
    """What the logged-in user's roles grant, as (authz_grp, action) pairs."""
    return json_body(await permission_pairs(principal_of(request).username))


async def permission_pairs(username: str) -> list[dict[str, str]]:
    """``[{authz_grp, action}]`` the user's roles grant (REST ``/permissions``, GraphQL ``me``)."""
    pairs: list[tuple[str, str]] = (
        await db.RolePermission.filter(role__user_roles__user_id=username)
        .distinct()
        .order_by("group_id", "permission")
        .values_list("group_id", "permission")
    )
    return [{"authz_grp": group, "action": action} for group, action in pairs]
