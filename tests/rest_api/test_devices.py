"""The building map and devices: sticky values with their seq, lists, 404s, map images."""

from __future__ import annotations

from fleetcore.store.models import MapImage
from tests.rest_api.conftest import EPOCH, Client, FakeHub, position

DOOR = {"name": "main_door", "v1_x": 0.0, "v1_y": 0.0, "v2_x": 1.0, "v2_y": 0.0}
LIFT = {"name": "lift1", "levels": ["L1", "L2"]}
BUILDING = {
    "name": "site",
    "levels": [
        {"name": "L1", "doors": [DOOR]},
        {"name": "L2", "doors": [{**DOOR, "name": "lab_door"}]},
    ],
    "lifts": [LIFT],
}


async def test_building_map_is_served_with_the_seq_that_set_it(
    client: Client, hub: FakeHub
) -> None:
    pub = await hub.publish("/building_map", BUILDING)
    await hub.publish(
        "/doors/main_door/state", {"door_name": "main_door", "current_mode": {"value": 2}}
    )

    response = await client.get("/building_map")

    assert response.status == 200
    assert await response.json() == BUILDING
    assert position(response) == (pub.seq, EPOCH)


async def test_building_map_is_404_before_one_is_published(client: Client) -> None:
    response = await client.get("/building_map")

    assert response.status == 404
    assert "building map" in (await response.json())["detail"]


async def test_doors_lists_the_doors_of_every_level(client: Client, hub: FakeHub) -> None:
    await hub.publish("/building_map", BUILDING)

    response = await client.get("/doors")

    assert [door["name"] for door in await response.json()] == ["main_door", "lab_door"]


async def test_lifts_lists_the_lifts_of_the_map(client: Client, hub: FakeHub) -> None:
    await hub.publish("/building_map", BUILDING)

    response = await client.get("/lifts")

    assert await response.json() == [LIFT]


async def test_doors_is_empty_before_a_map_at_the_current_position(
    client: Client, hub: FakeHub
) -> None:
    last = await hub.publish("/lifts/lift1/state", {"lift_name": "lift1"})

    response = await client.get("/doors")

    assert await response.json() == []
    assert position(response) == (last.seq, EPOCH)


async def test_door_state_is_the_latest_value_with_its_seq(client: Client, hub: FakeHub) -> None:
    await hub.publish(
        "/doors/main_door/state", {"door_name": "main_door", "current_mode": {"value": 0}}
    )
    latest = await hub.publish(
        "/doors/main_door/state", {"door_name": "main_door", "current_mode": {"value": 2}}
    )

    response = await client.get("/doors/main_door/state")

    assert (await response.json())["current_mode"] == {"value": 2}
    assert position(response) == (latest.seq, EPOCH)


async def test_unknown_door_is_404_with_a_json_detail(client: Client) -> None:
    response = await client.get("/doors/nowhere/state")

    assert response.status == 404
    assert response.content_type == "application/json"
    assert "nowhere" in (await response.json())["detail"]


async def test_lift_state_is_served(client: Client, hub: FakeHub) -> None:
    await hub.publish("/lifts/lift1/state", {"lift_name": "lift1", "current_floor": "L2"})

    response = await client.get("/lifts/lift1/state")

    assert (await response.json())["current_floor"] == "L2"


async def test_dispensers_lists_guids_at_the_position_read_first(
    client: Client, hub: FakeHub
) -> None:
    await hub.publish("/dispensers/coke/state", {"guid": "coke"})
    await hub.publish("/dispensers/arm%201/state", {"guid": "arm 1"})
    last = await hub.publish("/fleets/f/state", {"name": "f"})

    response = await client.get("/dispensers")

    assert await response.json() == [{"guid": "arm 1"}, {"guid": "coke"}]
    assert position(response) == (last.seq, EPOCH)


async def test_ingestor_state_and_list(client: Client, hub: FakeHub) -> None:
    await hub.publish("/ingestors/bin/state", {"guid": "bin", "mode": 1})

    listed = await client.get("/ingestors")
    state = await client.get("/ingestors/bin/state")
    unknown = await client.get("/dispensers/bin/state")

    assert await listed.json() == [{"guid": "bin"}]
    assert (await state.json())["mode"] == 1
    assert unknown.status == 404


async def test_map_image_is_served_with_its_type(client: Client) -> None:
    sha = "ab" * 32
    await MapImage.create(sha256=sha, content_type="image/png", data=b"\x89PNG-bytes")

    response = await client.get(f"/building_map/images/{sha}")

    assert response.status == 200
    assert response.content_type == "image/png"
    assert await response.read() == b"\x89PNG-bytes"
    assert response.headers["ETag"] == f'"{sha}"'


async def test_unknown_or_malformed_map_image_is_404(client: Client) -> None:
    missing = await client.get(f"/building_map/images/{'cd' * 32}")
    malformed = await client.get("/building_map/images/not-a-hash")

    assert missing.status == malformed.status == 404
    assert "sha256" in (await malformed.json())["detail"]


async def test_a_name_longer_than_any_room_is_404_not_500(client: Client) -> None:
    response = await client.get(f"/doors/{'d' * 600}/state")

    assert response.status == 404
