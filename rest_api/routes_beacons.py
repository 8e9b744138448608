"""Beacons, with rmf-web's paths: ``GET /beacons`` and ``GET /beacons/{id}``.

ros_bridge relays rmf_fleet_msgs/BeaconState; the hub publishes every update
on the ``/beacons`` log room (rmf-web's subscription) and keeps each beacon's
latest in its own state room, which these read from the bus's sticky store.
Beacons are open to every authenticated user, as in the socket.io rules.
"""

from __future__ import annotations

from aiohttp import web

from fleetcore.contract.rmf import BeaconState
from fleetcore.contract.rooms import BEACON_STATE
from rest_api.access import AUTHENTICATED
from rest_api.keys import BUS_KEY
from rest_api.registry import ApiRoutes
from rest_api.responses import json_array, not_found, positioned, sticky_response
from rest_api.rooms import latest

routes = ApiRoutes("Beacons")


@routes.get("/beacons", response=list[BeaconState], positioned=True, access=AUTHENTICATED)
async def get_beacons(request: web.Request) -> web.Response:
    """Every beacon's latest state, by id; live updates in the ``/beacons`` room."""
    bus = request.app[BUS_KEY]
    position = await bus.position()
    pubs = sorted(await bus.sticky_all(BEACON_STATE), key=lambda pub: pub.room)
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
