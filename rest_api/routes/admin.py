"""rmf-web's admin API (users, roles, role permissions) and fleethub's security groups.

Administrators only. Paths and bodies are rmf-web's (``/admin/users``,
``/admin/roles``, ``/admin/roles/{role}/permissions`` with
``{action, authz_grp}``); an authz group is a security group here, and
``/admin/security_groups`` says what each one names. Every change is in the
audit log (the access middleware writes it) and takes effect in this
process at once, in others within ``auth_cache_s``.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, RootModel

from fleetcore.auth import users
from rest_api.access import ADMIN, AUTH_KEY
from rest_api.models import NoContent
from rest_api.query import MAX_LIMIT
from rest_api.registry import ApiRoutes
from rest_api.responses import JSON, json_body, unprocessable
from rest_api.routes.auth import Permission, User

routes = ApiRoutes("Admin", access=ADMIN)

T = TypeVar("T")
Name = Annotated[str, Field(min_length=1, max_length=256)]
ERRORS = (404, 409, 422)


class PostUsers(BaseModel):
    """A new user; with a password they can log in with POST /auth/token (embedded users)."""

    model_config = ConfigDict(extra="forbid")

    username: Name
    is_admin: bool = False
    password: Annotated[str, Field(min_length=8, max_length=1024)] | None = None


class PostRoles(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class RoleList(RootModel[list[PostRoles]]):
    """The complete list of a user's roles."""


class PostMakeAdmin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    admin: bool


class PostPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, Field(min_length=8, max_length=1024)]


class PostRolePermissions(BaseModel):
    """A permission (``action``) on a security group (``authz_grp``)."""

    model_config = ConfigDict(extra="forbid")

    action: Name
    authz_grp: Name


class UsersQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    username: str | None = Field(None, description="Users whose name starts with this.")
    is_admin: bool | None = Field(None, description="Only admins, or only non-admins.")
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = Field(100, description="Most users.")
    offset: Annotated[int, Field(ge=0, le=2**31 - 1)] = Field(0, description="Users to skip.")


class SecurityGroup(BaseModel):
    """What a security group names; robots as ``fleet/robot``."""

    name: str
    fleets: list[str]
    robots: list[str]
    doors: list[str]
    lifts: list[str]


class PostMember(BaseModel):
    """One thing a security group names."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["fleet", "robot", "door", "lift"]
    name: Annotated[str, Field(min_length=1, max_length=513)] = Field(
        description="A fleet, door or lift name, or fleet/robot for a robot."
    )


async def _store(request: web.Request, change: Awaitable[T]) -> T:
    """Run a user-store call; its refusals become HTTP errors, a change is seen at once here."""
    try:
        result = await change
    except users.UserStoreError as exc:
        refusal = _REFUSALS.get(exc.status)
        if refusal is None:
            # FastAPI's shape, as every 422 of this API (a store rule is about the request).
            raise unprocessable(
                [{"loc": ["body"], "msg": exc.detail, "type": "value_error"}]
            ) from None
        raise refusal(
            text=orjson.dumps({"detail": exc.detail}).decode(), content_type=JSON
        ) from None
    request.app[AUTH_KEY].forget()
    return result


_REFUSALS: dict[int, type[web.HTTPClientError]] = {404: web.HTTPNotFound, 409: web.HTTPConflict}


def _done() -> web.Response:
    return json_body(None)


@routes.get_query("/admin/users", query=UsersQuery, response=list[str])
async def get_users(request: web.Request, query: UsersQuery) -> web.Response:
    """Search users by name prefix and admin flag, one page, by name."""
    names = await users.list_users(
        prefix=query.username, is_admin=query.is_admin, limit=query.limit, offset=query.offset
    )
    return json_body(names)


@routes.route("post", "/admin/users", body=PostUsers, response=NoContent, errors=ERRORS)
async def create_user(request: web.Request, *, body: PostUsers) -> web.Response:
    """Create a user (409 if the name is taken)."""
    await _store(
        request, users.create_user(body.username, password=body.password, is_admin=body.is_admin)
    )
    return _done()


@routes.get("/admin/users/{username}", response=User, errors=(404,))
async def get_admin_user(request: web.Request) -> web.Response:
    """A user: admin flag and roles."""
    username = request.match_info["username"]
    is_admin, roles = await _store(request, users.user_info(username))
    return json_body({"username": username, "is_admin": is_admin, "roles": roles})


@routes.route("delete", "/admin/users/{username}", response=NoContent, errors=(404, 409))
async def delete_user(request: web.Request) -> web.Response:
    """Delete a user. A user of an identity provider is added again, without roles, at their next login."""
    await _store(request, users.delete_user(request.match_info["username"]))
    return _done()


@routes.route(
    "post",
    "/admin/users/{username}/make_admin",
    body=PostMakeAdmin,
    response=NoContent,
    errors=ERRORS,
)
async def make_admin(request: web.Request, *, body: PostMakeAdmin) -> web.Response:
    """Make or remove admin privilege from a user."""
    await _store(request, users.set_admin(request.match_info["username"], body.admin))
    return _done()


@routes.route(
    "post",
    "/admin/users/{username}/password",
    body=PostPassword,
    response=NoContent,
    errors=ERRORS,
)
async def set_user_password(request: web.Request, *, body: PostPassword) -> web.Response:
    """Set an embedded user's password (the audit log records that it changed, not the value)."""
    await _store(request, users.set_password(request.match_info["username"], body.password))
    return _done()


@routes.route(
    "post",
    "/admin/users/{username}/roles",
    body=PostRoles,
    response=NoContent,
    errors=ERRORS,
)
async def add_user_role(request: web.Request, *, body: PostRoles) -> web.Response:
    """Add a role to a user."""
    await _store(request, users.add_user_role(request.match_info["username"], body.name))
    return _done()


@routes.route(
    "delete",
    "/admin/users/{username}/roles",
    body=PostRoles,
    response=NoContent,
    errors=ERRORS,
)
async def delete_user_role(request: web.Request, *, body: PostRoles) -> web.Response:
    """Remove a role from a user."""
    await _store(request, users.remove_user_role(request.match_info["username"], body.name))
    return _done()


@routes.route(
    "delete",
    "/admin/users/{username}/roles/{role}",
    response=NoContent,
    errors=ERRORS,
)
async def delete_user_role_by_path(request: web.Request) -> web.Response:
    """Remove a role from a user (rmf-web's path, the role named in it)."""
    info = request.match_info
    await _store(request, users.remove_user_role(info["username"], info["role"]))
    return _done()


@routes.route(
    "put",
    "/admin/users/{username}/roles",
    body=RoleList,
    response=NoContent,
    errors=ERRORS,
)
async def set_user_roles(request: web.Request, *, body: RoleList) -> web.Response:
    """Set the roles of a user (422 if one does not exist)."""
    roles = [role.name for role in body.root]
    await _store(request, users.set_user_roles(request.match_info["username"], roles))
    return _done()


@routes.get("/admin/roles", response=list[str])
async def get_roles(request: web.Request) -> web.Response:
    """Every role, by name."""
    return json_body(await users.list_roles())


@routes.route("post", "/admin/roles", body=PostRoles, response=NoContent, errors=ERRORS)
async def create_role(request: web.Request, *, body: PostRoles) -> web.Response:
    """Create a role (409 if it exists)."""
    await _store(request, users.create_role(body.name))
    return _done()


@routes.route("delete", "/admin/roles/{role}", response=NoContent, errors=(404,))
async def delete_role(request: web.Request) -> web.Response:
    """Delete a role; its users lose what it granted."""
    await _store(request, users.delete_role(request.match_info["role"]))
    return _done()


@routes.get("/admin/roles/{role}/permissions", response=list[Permission], errors=(404,))
async def get_role_permissions(request: web.Request) -> web.Response:
    """What a role grants: (authz_grp, action) pairs."""
    pairs = await _store(request, users.role_permissions(request.match_info["role"]))
    return json_body([{"authz_grp": group, "action": action} for action, group in pairs])


@routes.route(
    "post",
    "/admin/roles/{role}/permissions",
    body=PostRolePermissions,
    response=NoContent,
    errors=ERRORS,
)
async def add_role_permission(request: web.Request, *, body: PostRolePermissions) -> web.Response:
    """Grant a permission on a security group to a role (422: unknown permission).

    Any group name is taken, as rmf-web does: one not defined yet is created
    empty, and the grant covers what its members name once it has some.
    """
    await _store(request, users.grant(request.match_info["role"], body.action, body.authz_grp))
    return _done()


@routes.route(
    "delete",
    "/admin/roles/{role}/permissions",
    body=PostRolePermissions,
    response=NoContent,
    errors=ERRORS,
)
async def delete_role_permission(
    request: web.Request, *, body: PostRolePermissions
) -> web.Response:
    """Take a permission on a security group from a role."""
    await _store(request, users.revoke(request.match_info["role"], body.action, body.authz_grp))
    return _done()


@routes.route(
    "post",
    "/admin/roles/{role}/permissions/remove",
    body=PostRolePermissions,
    response=NoContent,
    errors=ERRORS,
)
async def remove_role_permission(
    request: web.Request, *, body: PostRolePermissions
) -> web.Response:
    """Take a permission on a security group from a role (rmf-web's path for the DELETE above)."""
    await _store(request, users.revoke(request.match_info["role"], body.action, body.authz_grp))
    return _done()


@routes.get("/admin/security_groups", response=list[str])
async def get_security_groups(request: web.Request) -> web.Response:
    """Every security group, by name."""
    return json_body(await users.list_groups())


@routes.route(
    "post",
    "/admin/security_groups",
    body=PostRoles,
    response=NoContent,
    errors=ERRORS,
)
async def create_security_group(request: web.Request, *, body: PostRoles) -> web.Response:
    """Create an empty security group (409 if it exists)."""
    await _store(request, users.create_group(body.name))
    return _done()


@routes.get("/admin/security_groups/{group}", response=SecurityGroup, errors=(404,))
async def get_security_group(request: web.Request) -> web.Response:
    """What a security group names."""
    name = request.match_info["group"]
    scope = await _store(request, users.group_scope(name))
    return json_body(
        {
            "name": name,
            "fleets": sorted(scope.fleets),
            "robots": sorted(f"{fleet}/{robot}" for fleet, robot in scope.robots),
            "doors": sorted(scope.doors),
            "lifts": sorted(scope.lifts),
        }
    )


@routes.route("delete", "/admin/security_groups/{group}", response=NoContent, errors=(404,))
async def delete_security_group(request: web.Request) -> web.Response:
    """Delete a security group and every grant on it."""
    await _store(request, users.delete_group(request.match_info["group"]))
    return _done()


@routes.route(
    "post",
    "/admin/security_groups/{group}/members",
    body=PostMember,
    response=NoContent,
    errors=ERRORS,
)
async def add_security_group_member(request: web.Request, *, body: PostMember) -> web.Response:
    """Add a fleet, a robot (fleet/robot), a door or a lift to a security group."""
    await _store(request, users.add_member(request.match_info["group"], body.kind, body.name))
    return _done()


@routes.route(
    "delete",
    "/admin/security_groups/{group}/members",
    body=PostMember,
    response=NoContent,
    errors=ERRORS,
)
async def delete_security_group_member(request: web.Request, *, body: PostMember) -> web.Response:
    """Remove a member from a security group."""
    await _store(request, users.remove_member(request.match_info["group"], body.kind, body.name))
    return _done()
