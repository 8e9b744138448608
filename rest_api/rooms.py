"""Reading one room's sticky value by the resource's path parameters."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from fleetcore.auth import Principal
from fleetcore.bus.base import Bus
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import RoomTemplate
from fleetcore.errors import UnknownRoom
from rest_api.access import principal_of
from rest_api.keys import BUS_KEY
from rest_api.responses import not_found, positioned

View = Callable[[Principal, bytes], bytes | None]
"""What of a room's latest JSON a user sees: all of it, a filtered copy, or None (nothing)."""


async def latest(bus: Bus, template: RoomTemplate, **params: str) -> Publication | None:
    """The room's latest publication, or None.

    A name no room can have (longer than the room limit) is simply not
    found: it is the client's bad input, never a server error.
    """
    try:
        return await bus.sticky(template.format(**params))
    except UnknownRoom:
        return None


async def reported(bus: Bus, template: RoomTemplate) -> list[Publication]:
    """Every room of ``template`` with a latest value, ordered by room (so by name or id)."""
    return sorted(await bus.sticky_all(template), key=lambda pub: pub.room)


async def visible_state(
    request: web.Request, template: RoomTemplate, param: str, kind: str, view: View
) -> web.Response:
    """The room of the path's ``param`` as the user sees it, stamped with the seq it reflects.

    404 when the room has no value yet or the user sees nothing of it: another
    group's object is answered as if it did not exist.
    """
    value = request.match_info[param]
    pub = await latest(request.app[BUS_KEY], template, **{param: value})
    shown = view(principal_of(request), pub.data_json) if pub is not None else None
    if pub is None or shown is None:
        raise not_found(f"no {kind} named {value!r} has reported a state")
    return positioned(shown, pub.position)
