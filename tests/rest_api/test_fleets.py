"""Fleets: states from the sticky store, logs from the database with rmf-web's ``between``."""

from __future__ import annotations

from fleetcore.store.models import FleetLogEntry
from rest_api.query import now_ms
from tests.rest_api.conftest import EPOCH, Client, FakeHub, position


async def _log(fleet: str, robot: str | None, at: int, text: str, seq: int = 1) -> None:
    await FleetLogEntry.create(
        fleet=fleet, robot=robot, log_seq=0, tier="info", unix_millis_time=at, text=text, seq=seq
    )


async def test_fleets_lists_every_state_at_the_position_read_first(
    client: Client, hub: FakeHub
) -> None:
    await hub.publish("/fleets/beta/state", {"name": "beta", "robots": {}})
    await hub.publish("/fleets/alpha/state", {"name": "alpha", "robots": {"r1": {"name": "r1"}}})
    last = await hub.publish("/doors/d/state", {"door_name": "d", "current_mode": {"value": 0}})

    response = await client.get("/fleets")

    assert [fleet["name"] for fleet in await response.json()] == ["alpha", "beta"]
    assert position(response) == (last.seq, EPOCH)


async def test_fleet_state_is_the_latest_value_with_its_seq(client: Client, hub: FakeHub) -> None:
    await hub.publish("/fleets/alpha/state", {"name": "alpha", "robots": {}})
    latest = await hub.publish("/fleets/alpha/state", {"name": "alpha", "robots": {"r2": {}}})
    await hub.publish("/fleets/beta/state", {"name": "beta", "robots": {}})

    response = await client.get("/fleets/alpha/state")

    assert await response.json() == {"name": "alpha", "robots": {"r2": {}}}
    assert position(response) == (latest.seq, EPOCH)


async def test_unknown_fleet_state_is_404(client: Client) -> None:
    response = await client.get("/fleets/ghost/state")

    assert response.status == 404
    assert "ghost" in (await response.json())["detail"]


async def test_fleet_log_between_returns_entries_in_range_per_robot(
    client: Client, hub: FakeHub
) -> None:
    await _log("alpha", None, 1000, "fleet up")
    await _log("alpha", "r1", 1500, "r1 moving")
    await _log("alpha", "r1", 3000, "r1 late")
    await _log("alpha", "r2", 5000, "r2 outside")
    await _log("beta", None, 1200, "other fleet")
    last = await hub.publish("/fleets/alpha/log", {"name": "alpha"})

    response = await client.get("/fleets/alpha/log", params={"between": "1000,2000"})

    assert await response.json() == {
        "name": "alpha",
        "log": [{"seq": 0, "tier": "info", "unix_millis_time": 1000, "text": "fleet up"}],
        "robots": {
            "r1": [{"seq": 0, "tier": "info", "unix_millis_time": 1500, "text": "r1 moving"}],
            "r2": [],
        },
    }
    assert position(response) == (last.seq, EPOCH)


async def test_fleet_log_defaults_to_the_last_minute(client: Client) -> None:
    await _log("alpha", None, now_ms() - 120_000, "old")
    await _log("alpha", None, now_ms() - 1_000, "recent")

    response = await client.get("/fleets/alpha/log")

    assert [entry["text"] for entry in (await response.json())["log"]] == ["recent"]


async def test_fleet_log_of_a_fleet_without_logs_is_empty(client: Client, hub: FakeHub) -> None:
    await hub.publish("/fleets/alpha/state", {"name": "alpha", "robots": {}})

    response = await client.get("/fleets/alpha/log")

    assert await response.json() == {"name": "alpha", "log": [], "robots": {}}


async def test_fleet_log_of_an_unknown_fleet_is_404(client: Client) -> None:
    response = await client.get("/fleets/ghost/log")

    assert response.status == 404


async def test_fleet_log_with_a_bad_between_is_422(client: Client) -> None:
    response = await client.get("/fleets/alpha/log", params={"between": "2000,1000"})

    assert response.status == 422
    [error] = (await response.json())["detail"]
    assert error["loc"] == ["query", "between"]
    assert error["input"] == "2000,1000"
