"""Bad ingest input is rejected with a specific reason, counted, and disturbs nobody."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import eventually
from tests.helpers import IngestClient, Subscriber, fleet


def url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def rejected_count(server: TestServer, reason: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(url(server) + "/metrics") as resp:
        text = await resp.text()
    for family in text_string_to_metric_families(text):
        if family.name == "fleethub_ingest_rejected":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels.get("reason") == reason:
                    return sample.value
    return 0.0


def robot_with(**location: object) -> dict[str, object]:
    state = fleet("bad", {"r1": (0.0, 0.0)})
    state["robots"]["r1"]["location"].update(location)
    return state


BAD_FRAMES = [
    pytest.param('{"type": "fleet_state_update", "data": {', "malformed_json", id="malformed-json"),
    pytest.param('{"type": "robot_teleport", "data": {}}', "unknown_type", id="unknown-type"),
    pytest.param(
        '{"type": "fleet_state_update", "data": {"name": "bad", "robots": {"r1": {"name": "r1", '
        '"location": {"map": "L1", "x": NaN, "y": 0, "yaw": 0}}}}}',
        "non_finite_number",
        id="nan-coordinate",
    ),
    pytest.param(
        '{"type": "fleet_state_update", "data": {"name": "bad", "robots": {"r1": {"name": "r1", '
        '"location": {"map": "L1", "x": Infinity, "y": 0, "yaw": 0}}}}}',
        "non_finite_number",
        id="infinity-coordinate",
    ),
    pytest.param(
        '{"type": "fleet_state_update", "data": {"name": "bad", "robots": {"": {"name": ""}}}}',
        "invalid_field",
        id="empty-robot-name",
    ),
    pytest.param(
        '{"type": "fleet_state_update", "data": {"name": "bad", "pad": "' + "x" * (2 << 20) + '"}}',
        "frame_too_large",
        id="2MB-frame",
    ),
    pytest.param("[1, 2, 3]", "not_an_object", id="not-an-object"),
    pytest.param(
        '{"type": "task_state_update", "data": {"booking": {"id": "t"}, "detail": '
        + "[" * 300
        + "]" * 300
        + "}}",
        "too_deep",
        id="nested-300-deep",
    ),
    pytest.param(
        '{"data": {"name": "bad", "pad": "' + "x" * (2 << 20) + '"}, "type": "fleet_state_update"}',
        "frame_too_large",
        id="2MB-frame-type-last",
    ),
]


@pytest.mark.parametrize(("frame", "reason"), BAD_FRAMES)
async def test_bad_frame_is_rejected_counted_and_the_connection_goes_on(
    embedded: TestServer, frame: str, reason: str
) -> None:
    before = await rejected_count(embedded, reason)
    async with IngestClient(url(embedded)) as bad:
        await bad.send_raw(frame)
        reply = await bad.next_reply()
        assert reply["error"] == reason
        assert reply["detail"]
        await bad.send("fleet_state_update", fleet("after_bad", {"r9": (1.0, 1.0)}))
        client = await Subscriber().connect(url(embedded))
        try:
            await client.subscribe("/fleets/after_bad/state")
            await eventually(lambda: client.of("/fleets/after_bad/state"))
        finally:
            await client.close()
    assert await rejected_count(embedded, reason) == before + 1


async def test_a_bad_sender_does_not_disturb_a_good_fleet_on_another_connection(
    embedded: TestServer,
) -> None:
    client = await Subscriber().connect(url(embedded))
    await client.subscribe("/fleets/good/state")
    try:
        async with IngestClient(url(embedded)) as good, IngestClient(url(embedded)) as bad:
            for step in range(20):
                await bad.send_raw(
                    '{"type": "fleet_state_update", "data": {"name": "x", "robots": {"r": {"name": "r", "location": {"map": "L1", "x": NaN, "y": 0, "yaw": 0}}}}}'
                )
                await good.send("fleet_state_update", fleet("good", {"r1": (float(step), 0.0)}))
            await eventually(
                lambda: (
                    client.of("/fleets/good/state")
                    and client.of("/fleets/good/state")[-1]["robots"]["r1"]["location"]["x"] == 19.0
                )
            )
        xs = [s["robots"]["r1"]["location"]["x"] for s in client.of("/fleets/good/state")]
        assert xs == sorted(xs)
    finally:
        await client.close()
