"""The building map and the devices: doors, lifts, dispensers, ingestors.

Latest values come from the bus's sticky store. ``/doors`` and ``/lifts``
list the building map's doors and lifts, as rmf-web does; their states are
rooms of their own.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from fleetcore.auth import Principal
from fleetcore.contract.rmf import DispenserState, DoorState, IngestorState, LiftState
from fleetcore.contract.rmf.building_map import BuildingMap, Door, Lift
from fleetcore.contract.rooms import (
    BUILDING_MAP,
    DISPENSER_STATE,
    DOOR_STATE,
    INGESTOR_STATE,
    LIFT_STATE,
    RoomTemplate,
    match_room,
)
from fleetcore.store.models import MapImage
from rest_api.access import (
    AUTHENTICATED,
    PUBLIC,
    principal_of,
    signed_or_bearer,
)
from rest_api.keys import BUS_KEY, MAP_IMAGES_KEY
from rest_api.models import Dispenser, Ingestor
from rest_api.registry import ApiRoutes
from rest_api.responses import json_array, not_found, positioned
from rest_api.rooms import latest, reported, visible_state

routes = ApiRoutes("Building", access=AUTHENTICATED)

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


MapItems = Callable[[dict[str, Any]], list[Any]]
Sees = Callable[[Principal, str], bool]
"""Whether a principal may see the device of that name (doors and lifts are in security groups)."""


def _everyone(principal: Principal, name: str) -> bool:
    return True


def doors_of(building: dict[str, Any]) -> list[Any]:
    return [door for level in building.get("levels", []) for door in level.get("doors", [])]


def lifts_of(building: dict[str, Any]) -> list[Any]:
    return list(building.get("lifts", []))


async def _map_items(request: web.Request, items: MapItems, sees: Sees) -> web.Response:
    """A list the building map carries (what the user may see), stamped with the map's seq."""
    bus = request.app[BUS_KEY]
    position = await bus.position()
    pub = await latest(bus, BUILDING_MAP)
    if pub is None:
        return positioned(b"[]", position)
    principal = principal_of(request)
    listed = [
        item for item in items(orjson.loads(pub.data_json)) if sees(principal, item.get("name"))
    ]
    return positioned(orjson.dumps(listed), pub.position)


async def _state(
    request: web.Request, template: RoomTemplate, param: str, kind: str, sees: Sees = _everyone
) -> web.Response:
    value = request.match_info[param]

    def view(principal: Principal, data_json: bytes) -> bytes | None:
        return data_json if sees(principal, value) else None

    return await visible_state(request, template, param, kind, view)


async def _guids(request: web.Request, template: RoomTemplate) -> web.Response:
    """``[{"guid": ...}]`` of every device of one kind that reported a state."""
    bus = request.app[BUS_KEY]
    position = await bus.position()
    guids = [match_room(pub.room).params["guid"] for pub in await reported(bus, template)]
    return positioned(json_array(orjson.dumps({"guid": guid}) for guid in guids), position)


@routes.get("/building_map", response=BuildingMap, errors=(404,), positioned=True)
async def get_building_map(request: web.Request) -> web.Response:
    """The building map.

    Level images are absolute, signed URLs of ``/building_map/images/{sha256}``
    (under ``public_url``), not inline data: a page on another origin loads
    them as ``<img>`` without a token, for a day or two (``image_url_ttl_s``).
    """
    pub = await latest(request.app[BUS_KEY], BUILDING_MAP)
    if pub is None:
        raise not_found("no building map has been published")
    urls = request.app[MAP_IMAGES_KEY]
    body = urls.absolute(pub.data_json, urls.base_url(request), urls.period())
    return positioned(body, pub.position)


@routes.get(
    "/building_map/images/{sha256}",
    response=None,
    media_type="image/*",
    errors=(401, 404),
    access=PUBLIC,
)
async def get_building_map_image(request: web.Request) -> web.Response:
    """A building-map image by the SHA-256 of its bytes, for a signed URL or a bearer token.

    The URL the building map gives carries ``expires`` and ``signature``
    (no token needed, as an ``<img>`` sends none); without them a bearer
    token is needed. Cached by the browser while the URL works.
    """
    sha256 = request.match_info["sha256"]
    access = await signed_or_bearer(request, request.app[MAP_IMAGES_KEY])
    if isinstance(access, web.Response):
        return access
    image = await MapImage.get_or_none(sha256=sha256) if _SHA256.match(sha256) else None
    if image is None:
        raise not_found(f"no map image with sha256 {sha256!r}")
    return web.Response(
        body=bytes(image.data),
        content_type=image.content_type,
        headers={"Cache-Control": f"private, max-age={access.max_age}", "ETag": f'"{sha256}"'},
    )


@routes.get("/doors", response=list[Door], positioned=True)
async def get_doors(request: web.Request) -> web.Response:
    """Every door of the building map, over all levels, that is in one of the user's groups."""
    return await _map_items(request, doors_of, Principal.sees_door)


@routes.get("/doors/{name}/state", response=DoorState, errors=(404,), positioned=True)
async def get_door_state(request: web.Request) -> web.Response:
    """A door's latest state (a door in one of the user's groups). Available in socket.io."""
    return await _state(request, DOOR_STATE, "name", "door", Principal.sees_door)


@routes.get("/lifts", response=list[Lift], positioned=True)
async def get_lifts(request: web.Request) -> web.Response:
    """Every lift of the building map that is in one of the user's groups."""
    return await _map_items(request, lifts_of, Principal.sees_lift)


@routes.get("/lifts/{name}/state", response=LiftState, errors=(404,), positioned=True)
async def get_lift_state(request: web.Request) -> web.Response:
    """A lift's latest state (a lift in one of the user's groups). Available in socket.io."""
    return await _state(request, LIFT_STATE, "name", "lift", Principal.sees_lift)


@routes.get("/dispensers", response=list[Dispenser], positioned=True)
async def get_dispensers(request: web.Request) -> web.Response:
    """Every dispenser that has reported a state."""
    return await _guids(request, DISPENSER_STATE)


@routes.get(
    "/dispensers/{guid}/state",
    response=DispenserState,
    errors=(404,),
    positioned=True,
)
async def get_dispenser_state(request: web.Request) -> web.Response:
    """A dispenser's latest state. Available in socket.io."""
    return await _state(request, DISPENSER_STATE, "guid", "dispenser")


@routes.get("/ingestors", response=list[Ingestor], positioned=True)
async def get_ingestors(request: web.Request) -> web.Response:
    """Every ingestor that has reported a state."""
    return await _guids(request, INGESTOR_STATE)


@routes.get(
    "/ingestors/{guid}/state",
    response=IngestorState,
    errors=(404,),
    positioned=True,
)
async def get_ingestor_state(request: web.Request) -> web.Response:
    """An ingestor's latest state. Available in socket.io."""
    return await _state(request, INGESTOR_STATE, "guid", "ingestor")
