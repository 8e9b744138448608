"""rmf-web's socket.io protocol over a real websocket, fed by a real ingest connection."""

from __future__ import annotations

from aiohttp.test_utils import TestServer

from tests.conftest import eventually
from tests.helpers import IngestClient, Subscriber, fleet


def url(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def test_subscribe_sends_the_sticky_value_then_updates(embedded: TestServer) -> None:
    async with IngestClient(url(embedded)) as ingest:
        await ingest.send("fleet_state_update", fleet("f1", {"r1": (1.0, 2.0)}))
        client = await Subscriber().connect(url(embedded))
        try:
            ack = await client.subscribe("/fleets/f1/state")
            assert ack == {"success": True}
            await eventually(lambda: client.of("/fleets/f1/state"))
            assert client.of("/fleets/f1/state")[0]["robots"]["r1"]["location"]["x"] == 1.0
            await ingest.send("fleet_state_update", fleet("f1", {"r1": (3.0, 2.0)}))
            await eventually(
                lambda: client.of("/fleets/f1/state")[-1]["robots"]["r1"]["location"]["x"] == 3.0
            )
        finally:
            await client.close()


def task_log(task_id: str, *seqs: int) -> dict[str, object]:
    return {
        "task_id": task_id,
        "log": [
            {"seq": s, "tier": "info", "unix_millis_time": 1000 + s, "text": f"entry {s}"}
            for s in seqs
        ],
    }


async def test_unsubscribe_stops_updates(embedded: TestServer) -> None:
    client = await Subscriber().connect(url(embedded))
    try:
        async with IngestClient(url(embedded)) as ingest:
            await client.subscribe("/fleets/f1/state")
            await ingest.send("fleet_state_update", fleet("f1", {"r1": (1.0, 0.0)}))
            await eventually(lambda: client.of("/fleets/f1/state"))
            assert await client.unsubscribe("/fleets/f1/state") == {"success": True}
            await ingest.send("fleet_state_update", fleet("f1", {"r1": (2.0, 0.0)}))
            await ingest.send("fleet_state_update", fleet("f2", {"r1": (2.0, 0.0)}))
            marker = await Subscriber().connect(url(embedded))
            await marker.subscribe("/fleets/f2/state")
            await eventually(lambda: marker.of("/fleets/f2/state"))
            await marker.close()
        assert len(client.of("/fleets/f1/state")) == 1
    finally:
        await client.close()


async def test_unknown_or_malformed_rooms_get_an_error_ack(embedded: TestServer) -> None:
    client = await Subscriber().connect(url(embedded))
    try:
        unknown = await client.subscribe("/robots_that_fly")
        assert unknown["success"] is False and "no room matches" in unknown["error"]
        not_a_string = await client.sio.call("subscribe", {"room": 42}, timeout=5)
        assert not_a_string["success"] is False
        not_an_object = await client.sio.call("subscribe", "fleets", timeout=5)
        assert not_an_object["success"] is False
        bad_since = await client.subscribe("/fleets/f1/state", since=-3)
        assert bad_since == {"success": False, "error": "'since' must be a non-negative integer"}
        assert (await client.unsubscribe("/fleets/never/state"))["success"] is False
    finally:
        await client.close()


async def test_a_room_too_long_once_percent_encoded_gets_an_error_ack(
    embedded: TestServer,
) -> None:
    client = await Subscriber().connect(url(embedded))
    try:
        answer = await client.subscribe("/doors/" + "é" * 100 + "/state")
        assert answer == {
            "success": False,
            "error": "room name longer than 512 bytes once percent-encoded",
        }
    finally:
        await client.close()


async def test_envelopes_carry_room_seq_epoch_and_time_when_asked(embedded: TestServer) -> None:
    client = await Subscriber(envelopes=True).connect(url(embedded))
    plain = await Subscriber().connect(url(embedded))
    try:
        await client.subscribe("/fleets/f1/state")
        await plain.subscribe("/fleets/f1/state")
        async with IngestClient(url(embedded)) as ingest:
            await ingest.send("fleet_state_update", fleet("f1", {"r1": (1.0, 0.0)}))
            await eventually(lambda: client.of("/fleets/f1/state") and plain.of("/fleets/f1/state"))
        envelope = client.of("/fleets/f1/state")[0]
        assert set(envelope) == {"room", "seq", "epoch", "received_ms", "data"}
        assert envelope["room"] == "/fleets/f1/state" and envelope["seq"] >= 1
        assert envelope["data"] == plain.of("/fleets/f1/state")[0]
    finally:
        await client.close()
        await plain.close()


async def test_resume_with_since_replays_exactly_the_missed_log_entries(
    embedded: TestServer,
) -> None:
    room = "/tasks/t1/log"
    async with IngestClient(url(embedded)) as ingest:
        first = await Subscriber(envelopes=True).connect(url(embedded))
        await first.subscribe(room)
        await ingest.send("task_log_update", task_log("t1", 0))
        await ingest.send("task_log_update", task_log("t1", 1))
        await eventually(lambda: len(first.of(room)) == 2)
        seen = first.of(room)[-1]["seq"]
        await first.close()
        for s in (2, 3, 4):
            await ingest.send("task_log_update", task_log("t1", s))
        watcher = await Subscriber().connect(url(embedded))
        await watcher.subscribe(room)
        await ingest.send("task_log_update", task_log("t1", 5))
        await eventually(lambda: watcher.of(room))
        await watcher.close()
        resumed = await Subscriber(envelopes=True).connect(url(embedded))
        try:
            assert await resumed.subscribe(room, since=seen) == {"success": True}
            await eventually(lambda: len(resumed.of(room)) == 4)
            entries = [env["data"]["log"][0]["seq"] for env in resumed.of(room)]
            assert entries == [2, 3, 4, 5]
            seqs = [env["seq"] for env in resumed.of(room)]
            assert seqs == sorted(seqs) and seqs[0] > seen
        finally:
            await resumed.close()


async def test_resume_from_another_epoch_is_told_to_resync(embedded: TestServer) -> None:
    client = await Subscriber(envelopes=True).connect(url(embedded))
    try:
        ack = await client.subscribe("/tasks/t1/log", since=3, epoch=999)
        assert ack["success"] is True and ack["resync"] is True
        await eventually(lambda: client.resyncs)
        assert client.resyncs[0]["room"] == "/tasks/t1/log"
    finally:
        await client.close()


async def test_a_state_room_resumed_with_since_gets_only_a_newer_value(
    embedded: TestServer,
) -> None:
    async with IngestClient(url(embedded)) as ingest:
        first = await Subscriber(envelopes=True).connect(url(embedded))
        await first.subscribe("/fleets/f1/state")
        await ingest.send("fleet_state_update", fleet("f1", {"r1": (1.0, 0.0)}))
        await eventually(lambda: first.of("/fleets/f1/state"))
        current = first.of("/fleets/f1/state")[-1]["seq"]
        await first.close()
    same = await Subscriber(envelopes=True).connect(url(embedded))
    older = await Subscriber(envelopes=True).connect(url(embedded))
    try:
        await same.subscribe("/fleets/f1/state", since=current)
        await older.subscribe("/fleets/f1/state", since=current - 1)
        await eventually(lambda: older.of("/fleets/f1/state"))
        assert older.of("/fleets/f1/state")[0]["seq"] == current
        assert same.of("/fleets/f1/state") == []
    finally:
        await same.close()
        await older.close()
