"""Device tokens: what a robot (or a site, for its fleet) uploads media with, issued by an admin.

The token is shown once, when it is issued; the store keeps only its SHA-256
(:mod:`rest_api.media_access`). Revoking one refuses it from the next request.
"""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from fleetcore.contract.limits import NAME_BYTES
from fleetcore.store import models as db
from rest_api.access import ADMIN, principal_of
from rest_api.media_access import create_device_token, now_ms
from rest_api.registry import ApiRoutes
from rest_api.responses import json_body, not_found

routes = ApiRoutes("Admin", access=ADMIN)

Name = Annotated[str, Field(min_length=1, max_length=NAME_BYTES, pattern=r"^[^/\x00]+$")]


class PostDeviceToken(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fleet: Name
    robot: Name | None = Field(
        None, description="The one robot it uploads for; none: the whole fleet (a site's)."
    )


class DeviceToken(BaseModel):
    id: str
    fleet: str
    robot: str | None
    created_by: str
    created_ms: int
    revoked_ms: int | None


class IssuedDeviceToken(DeviceToken):
    token: str
    """The secret itself, shown this once; send it as ``Authorization: Bearer``."""


def _described(row: db.DeviceToken) -> dict[str, object]:
    return {name: getattr(row, name) for name in DeviceToken.model_fields}


@routes.route("post", "/admin/device_tokens", body=PostDeviceToken, response=IssuedDeviceToken)
async def issue_device_token(request: web.Request, *, body: PostDeviceToken) -> web.Response:
    """Issue a token that uploads media for one robot (or, without ``robot``, for a fleet)."""
    token, row = await create_device_token(body.fleet, body.robot, principal_of(request).username)
    return json_body({**_described(row), "token": token})


@routes.get("/admin/device_tokens", response=list[DeviceToken])
async def get_device_tokens(request: web.Request) -> web.Response:
    """Every device token issued, revoked ones too, newest first (never the secrets)."""
    rows = await db.DeviceToken.all().order_by("-created_ms")
    return json_body([_described(row) for row in rows])


@routes.route("delete", "/admin/device_tokens/{id}", response=DeviceToken, errors=(404,))
async def revoke_device_token(request: web.Request) -> web.Response:
    """Revoke a device token: it is refused from the next request on."""
    row = await db.DeviceToken.get_or_none(id=request.match_info["id"])
    if row is None:
        raise not_found(f"no device token {request.match_info['id']!r}")
    if row.revoked_ms is None:
        row.revoked_ms = now_ms()
        await row.save(update_fields=["revoked_ms"])
    return json_body(_described(row))
