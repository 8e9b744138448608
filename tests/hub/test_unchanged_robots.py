"""A fleet state whose robots are mostly unchanged is published and stored whole, once each, in
order; only the robot that changed is derived and sampled again."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from unittest import mock

import orjson

from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import Publication
from fleetcore.contract.ingest import decode
from fleetcore.settings import Settings
from fleetcore.store import models
from hub.derive.health import HealthTracker
from hub.service import Hub
from tests.conftest import eventually
from tests.helpers import fleet

STATES = [
    fleet("f", {"r1": (0.0, 0.0), "r2": (1.0, 0.0), "r3": (9.0, 9.0)}),
    fleet("f", {"r1": (0.0, 0.0), "r2": (2.0, 0.0), "r3": (9.0, 9.0)}),
    fleet("f", {"r1": (0.0, 0.0), "r2": (3.0, 0.0), "r3": (9.0, 9.0)}),
]
"""r2 moves, r1 and r3 stand still: each state sent as the same JSON for them."""


def _frame(state: dict[str, Any]) -> bytes:
    return orjson.dumps({"type": "fleet_state_update", "data": state})


async def test_only_the_changed_robot_is_derived_and_every_state_is_published_whole(
    settings: Settings, database: None
) -> None:
    bus = InMemoryBus()
    published: list[Publication] = []

    async def record(batch: Sequence[Publication]) -> None:
        published.extend(pub for pub in batch if pub.room == "/fleets/f/state")

    bus.add_listener(record)
    hub = Hub(settings.replace(history_position_interval_s=0), bus)
    await hub.start()
    try:
        with mock.patch.object(
            HealthTracker, "_movement", autospec=True, side_effect=HealthTracker._movement
        ) as derived:
            for state in STATES:
                await hub.ingest(decode(_frame(state)))
            await eventually(lambda: len(published) == len(STATES))
        assert [pub.data() for pub in published] == STATES
        assert [pub.seq for pub in published] == sorted(pub.seq for pub in published)
        assert [call.args[4] for call in derived.call_args_list] == ["r1", "r2", "r3", "r2", "r2"]
        room = await models.RoomState.get(room="/fleets/f/state")
        assert orjson.loads(room.data) == STATES[-1]
        samples = await models.RobotPositionSample.all().order_by("id").values_list("robot", "x")
        assert samples == [("r1", 0.0), ("r2", 1.0), ("r3", 9.0), ("r2", 2.0), ("r2", 3.0)]
    finally:
        await hub.stop()
