"""A fleet state is published before the hub derives from it; derivations keep message order.

What a fleet state yields (position samples, robot events) follows it in a
later batch, so a burst of a whole site's fleet states is not held back by
looking at every robot first. Every other message is derived from before its
batch, after the fleet states before it: each derivation sees messages in the
order they came.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import Publication
from fleetcore.contract.ingest import IngestMessage, IngestType, decode, encode
from fleetcore.settings import Settings
from fleetcore.store import models
from hub.derive.base import Output
from hub.derive.deriver import Deriver
from hub.service import Hub
from tests.helpers import fleet

FLEET_ROOM = "/fleets/f1/state"


@pytest.fixture
async def hub(database: None, settings: Settings) -> AsyncIterator[Hub]:
    running = Hub(settings, InMemoryBus())
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def published(hub: Hub) -> list[str]:
    """The rooms the hub published to, in order."""
    rooms: list[str] = []

    async def hear(batch: Sequence[Publication]) -> None:
        rooms.extend(pub.room for pub in batch)

    hub.add_publication_listener(hear)
    return rooms


@pytest.fixture
def derived(monkeypatch: pytest.MonkeyPatch, published: list[str]) -> list[tuple[str, bool]]:
    """Each message the deriver looked at: its type and whether the fleet's state was published
    by then."""
    seen: list[tuple[str, bool]] = []
    observe = Deriver.observe

    def spy(self: Deriver, message: IngestMessage, received_ms: int) -> Output:
        seen.append((message.type.value, FLEET_ROOM in published))
        return observe(self, message, received_ms)

    monkeypatch.setattr(Deriver, "observe", spy)
    return seen


def fleet_state(x: float) -> IngestMessage:
    return decode(encode(IngestType.FLEET_STATE, fleet("f1", {"r1": (x, 0.0)})))


def task_state(task_id: str) -> IngestMessage:
    booking = {"id": task_id, "unix_millis_request_time": 1}
    return decode(encode(IngestType.TASK_STATE, {"booking": booking, "status": "queued"}))


async def test_a_fleet_state_is_published_before_the_hub_derives_from_it(
    hub: Hub, derived: list[tuple[str, bool]]
) -> None:
    await hub.ingest(fleet_state(1.0))
    await hub.drained()

    assert derived == [("fleet_state_update", True)]


async def test_a_task_state_is_derived_from_before_it_is_published(
    hub: Hub, derived: list[tuple[str, bool]]
) -> None:
    await hub.ingest(task_state("t1"))
    await hub.drained()

    assert derived == [("task_state_update", False)]


async def test_derivations_see_messages_in_the_order_they_came(
    hub: Hub, derived: list[tuple[str, bool]]
) -> None:
    await hub.ingest(fleet_state(1.0))
    await hub.ingest(task_state("t1"))
    await hub.ingest(fleet_state(2.0))
    await hub.drained()

    assert [kind for kind, _ in derived] == [
        "fleet_state_update",
        "task_state_update",
        "fleet_state_update",
    ]


async def test_what_a_fleet_state_yields_is_stored_once_the_hub_is_drained(hub: Hub) -> None:
    await hub.ingest(fleet_state(1.0))
    await hub.drained()

    sample = await models.RobotPositionSample.get(fleet="f1", robot="r1")
    assert (sample.map, sample.x, sample.y) == ("L1", 1.0, 0.0)
