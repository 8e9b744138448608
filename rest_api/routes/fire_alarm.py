"""RMF's fire alarm trigger, with rmf-web's paths under ``/building_map``.

The state comes from the site: ros_bridge relays RMF's ``fire_alarm_trigger``
topic, and the hub publishes it, timed when it received it, in the sticky
room ``/building_map/fire_alarm_trigger``. A reset is a command through the
hub that a site publishes on that topic (rmf-web publishes ``false`` itself);
the state that follows comes back the same way.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from fleetcore.contract.commands import CommandKind
from fleetcore.contract.rooms import FIRE_ALARM_TRIGGER
from rest_api.access import ADMIN, AUTHENTICATED
from rest_api.keys import BUS_KEY
from rest_api.registry import ApiRoutes
from rest_api.responses import not_found, sticky_response
from rest_api.rooms import latest
from rest_api.routes.commands import RmfResponse, submit_shaped

routes = ApiRoutes("Building")


class FireAlarmTriggerState(BaseModel):
    """rmf-web's FireAlarmTriggerState."""

    unix_millis_time: int
    trigger: bool


@routes.get(
    "/building_map/previous_fire_alarm_trigger",
    response=FireAlarmTriggerState,
    errors=(404,),
    positioned=True,
    access=AUTHENTICATED,
)
async def get_previous_fire_alarm_trigger(request: web.Request) -> web.Response:
    """The fire alarm trigger's latest state; 404 until RMF reported one. Available in socket.io
    as ``/building_map/fire_alarm_trigger``."""
    pub = await latest(request.app[BUS_KEY], FIRE_ALARM_TRIGGER)
    if pub is None:
        raise not_found("previous fire alarm trigger not available")
    return sticky_response(pub)


@routes.route(
    "post",
    "/building_map/reset_fire_alarm_trigger",
    response=FireAlarmTriggerState,
    errors=(202, 400),
    access=ADMIN,
)
async def reset_fire_alarm_trigger(request: web.Request) -> web.Response:
    """Reset RMF's fire alarm trigger; administrators only (rmf-web checks nothing).

    Answered, as rmf-web does, with the reset state once a site published it.
    """

    def reset(_: RmfResponse) -> tuple[Any, int]:
        return {"unix_millis_time": time.time_ns() // 1_000_000, "trigger": False}, 200

    return await submit_shaped(request, CommandKind.RESET_FIRE_ALARM_TRIGGER, {}, reset)
