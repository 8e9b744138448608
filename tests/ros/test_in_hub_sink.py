"""The in-hub bridge's sink against a real hub that does not lead yet, then leads.

No ROS needed: the sink takes the bridge's converted messages.
"""

from __future__ import annotations

import pytest

from fleetcore.bus import Bus
from fleetcore.contract.ingest import IngestLimits
from fleetcore.settings import Settings
from hub.ingest_ros import HubSink
from hub.rmf_gateway import SiteGateway
from hub.service import Hub
from tests.ros.conftest import door

pytestmark = pytest.mark.integration


async def test_state_held_while_the_hub_does_not_lead_is_ingested_first_once_it_leads(
    settings: Settings, database: None, bus: Bus
) -> None:
    hub = Hub(settings, bus)
    sink = HubSink(hub, SiteGateway(), IngestLimits())
    await sink.submit(door("door_s", 1))
    await sink.submit(door("door_s", 2))
    assert (sink.stats.not_leading, sink.stats.ingested) == (2, 0)
    await hub.start()
    try:
        await sink.submit(door("door_t", 0))
        await hub.drained()
        held = await bus.sticky("/doors/door_s/state")
        assert held is not None and held.data()["current_mode"] == {"value": 2}
        assert await bus.sticky("/doors/door_t/state") is not None
        assert sink.stats.ingested == 2
    finally:
        await hub.stop()
