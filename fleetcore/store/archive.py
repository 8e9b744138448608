"""The last values of rooms retired from the bus, read from the database.

A room whose family grows with the site's history (a task, a command) leaves
the live bus once quiet (``hub.retirement``), so the bus, Redis and the hub's
restore stay the size of the live site. Its last value stays in
``room_state``, written in the transaction that published it, so it is never
older than what the bus held: a bus built with :func:`archived` answers
``sticky`` for such a room from here, and a subscriber or a REST reader still
gets the final state, stamped with the seq it reflects.
"""

from __future__ import annotations

from fleetcore.contract.envelope import Publication
from fleetcore.store import models


def publication_of(row: models.RoomState) -> Publication:
    """The publication a ``room_state`` row holds."""
    return Publication(row.room, row.seq, row.epoch, row.received_ms, row.data.encode())


async def archived(room: str) -> Publication | None:
    """The last publication of ``room`` the database holds, or None."""
    row = await models.RoomState.get_or_none(room=room)
    return None if row is None else publication_of(row)
