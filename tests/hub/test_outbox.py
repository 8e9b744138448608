"""What the hub committed but did not publish is published by the next hub, once."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp.test_utils import TestServer

from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import Publication
from fleetcore.contract.ingest import decode
from fleetcore.errors import BusError
from fleetcore.settings import Settings
from fleetcore.store import models
from fleetcore.store.db import close_database, open_database
from hub.service import Hub
from tests.conftest import eventually
from tests.helpers import fleet


class FailingBus(InMemoryBus):
    """Refuses every publish, as a bus does when its server is down."""

    async def publish(self, batch: Sequence[Publication]) -> None:
        raise BusError("the bus is down")


def frame(x: float) -> bytes:
    import orjson

    return orjson.dumps({"type": "fleet_state_update", "data": fleet("f1", {"r1": (x, 0.0)})})


async def test_a_publication_committed_before_a_crash_is_published_by_the_next_hub(
    settings: Settings,
) -> None:
    await open_database(settings.resolved_database_url, apply_migrations=True)
    try:
        crashed = Hub(settings, FailingBus())
        await crashed.start()
        await crashed.ingest(decode(frame(1.0)))
        await eventually(lambda: models.Outbox.all().count())
        await crashed.stop(drain_timeout=0.1)

        bus = InMemoryBus()
        delivered: list[Publication] = []

        async def record(batch: Sequence[Publication]) -> None:
            delivered.extend(batch)

        bus.add_listener(record)
        successor = Hub(settings, bus)
        await successor.start()
        assert [p.room for p in delivered] == ["/fleets/f1/state"]
        assert delivered[0].data()["robots"]["r1"]["location"]["x"] == 1.0
        await successor.ingest(decode(frame(2.0)))
        await eventually(lambda: len(delivered) == 2)
        assert delivered[1].seq == delivered[0].seq + 1
        await successor.stop()
        assert await models.Outbox.filter(seq__lte=delivered[0].seq).count() == 0
    finally:
        await close_database()


async def test_published_outbox_rows_are_pruned(embedded: TestServer, settings: Settings) -> None:
    from tests.helpers import IngestClient

    base = str(embedded.make_url("")).rstrip("/")
    async with IngestClient(base) as ingest:
        for x in range(5):
            await ingest.send("fleet_state_update", fleet("f1", {"r1": (float(x), 0.0)}))
        await eventually(
            lambda: models.RoomState.filter(
                room="/fleets/f1/state", data__contains='"x":4.0'
            ).exists()
        )
        await ingest.send("fleet_state_update", fleet("f2", {"r1": (0.0, 0.0)}))
        await eventually(lambda: models.RoomState.filter(room="/fleets/f2/state").exists())
    assert await models.Outbox.all().count() <= 2
