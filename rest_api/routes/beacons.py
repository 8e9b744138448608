"""Beacons, with rmf-web's paths: ``GET /beacons``, ``GET /beacons/{id}`` and ``POST /beacons``.

ros_bridge relays rmf_fleet_msgs/BeaconState; the hub publishes every update
on the ``/beacons`` log room (rmf-web's subscription) and keeps each beacon's
latest in its own state room, which these read from the bus's sticky store.
A state posted over REST goes the same way, as a command the hub performs.
Beacons are open to every authenticated user, as in the socket.io rules.
"""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from fleetcore.contract.commands import CommandKind
from fleetcore.contract.rmf import BeaconState
from fleetcore.contract.rooms import BEACON_STATE
from rest_api.access import ADMIN, AUTHENTICATED
from rest_api.keys import BUS_KEY
from rest_api.registry import ApiRoutes
from rest_api.responses import json_array, not_found, positioned, sticky_response
from rest_api.rooms import latest, reported
from rest_api.routes.commands import RmfResponse, submit_shaped

routes = ApiRoutes("Beacons")

Text = Annotated[str, Field(max_length=256)]


class SaveBeaconQuery(BaseModel):
    """rmf-web takes the state as query parameters."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    beacon_id: Annotated[str, Field(min_length=1, max_length=256)]
    online: bool
    category: Text
    activated: bool
    level: Text


@routes.route(
    "post",
    "/beacons",
    query=SaveBeaconQuery,
    response=BeaconState,
    errors=(201, 202, 400),
    access=ADMIN,
)
async def save_beacon_state(request: web.Request, *, query: SaveBeaconQuery) -> web.Response:
    """Record a beacon's state (201), published as if a site had reported it; administrators only."""
    state = beacon_state(query)

    def saved(_: RmfResponse) -> tuple[Any, int]:
        return state, 201

    return await submit_shaped(request, CommandKind.SAVE_BEACON_STATE, state, saved)


def beacon_state(query: SaveBeaconQuery) -> dict[str, Any]:
    """The BeaconState ``query`` records (the command body of REST's and GraphQL's save)."""
    return {
        "id": query.beacon_id,
        "online": query.online,
        "category": query.category,
        "activated": query.activated,
        "level": query.level,
    }


@routes.get("/beacons", response=list[BeaconState], positioned=True, access=AUTHENTICATED)
async def get_beacons(request: web.Request) -> web.Response:
    """Every beacon's latest state, by id; live updates in the ``/beacons`` room."""
    bus = request.app[BUS_KEY]
    position = await bus.position()
    pubs = await reported(bus, BEACON_STATE)
    return positioned(json_array(pub.data_json for pub in pubs), position)


@routes.get(
    "/beacons/{id}", response=BeaconState, errors=(404,), positioned=True, access=AUTHENTICATED
)
async def get_beacon(request: web.Request) -> web.Response:
    """One beacon's latest state. Available in socket.io."""
    beacon_id = request.match_info["id"]
    pub = await latest(request.app[BUS_KEY], BEACON_STATE, id=beacon_id)
    if pub is None:
        raise not_found(f"no beacon {beacon_id!r} has reported a state")
    return sticky_response(pub)
