"""A task submitted over REST runs in the simulator; a retry of its key acts no more."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestServer

from fleetcore.contract.commands import request_id_for
from fleetcore.contract.rooms import TASK_LOG, TASK_STATE
from simulator import SimulatorService
from tests.commands.conftest import dispatch_body
from tests.conftest import eventually
from tests.helpers import Subscriber


async def test_a_dispatched_task_runs_to_completion_and_its_rooms_show_every_transition(
    embedded: TestServer, site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    answer = await http.post("/tasks/dispatch_task", json=dispatch_body())
    body = await answer.json()
    assert answer.status == 200, body
    assert body["success"] is True
    task_id = body["state"]["booking"]["id"]
    assert body["state"]["status"] == "queued"

    watcher = await Subscriber().connect(str(embedded.make_url("")))
    try:
        state_room = TASK_STATE.format(task_id=task_id)
        log_room = TASK_LOG.format(task_id=task_id)
        assert (await watcher.subscribe(state_room))["success"]
        assert (await watcher.subscribe(log_room, since=0))["success"]
        await eventually(
            lambda: any(s["status"] == "completed" for s in watcher.of(state_room)), timeout=15
        )
        statuses = [s["status"] for s in watcher.of(state_room)]
        seen = list(dict.fromkeys(statuses))
        assert seen[-1] == "completed"
        assert set(seen) <= {"queued", "underway", "completed"}
        assert "underway" in seen
        log_texts = [
            entry["text"] for update in watcher.of(log_room) for entry in update.get("log", [])
        ]
        assert log_texts, "the task log room replayed nothing"
    finally:
        await watcher.close()


async def test_a_retry_with_the_same_key_returns_the_stored_outcome_and_rmf_saw_one_request(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    headers = {"Idempotency-Key": "retry-me"}
    first = await http.post("/tasks/dispatch_task", json=dispatch_body(), headers=headers)
    again = await http.post("/tasks/dispatch_task", json=dispatch_body(), headers=headers)

    assert first.status == again.status == 200
    assert await first.json() == await again.json()
    assert again.headers["Idempotency-Key"] == "retry-me"
    assert site.commands.requests == {request_id_for("retry-me"): 1}
    assert len(site.simulation.tasks) == 1


async def test_a_key_is_made_and_returned_when_the_client_sends_none(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    answer = await http.post("/tasks/dispatch_task", json=dispatch_body())
    key = answer.headers["Idempotency-Key"]

    record = await (await http.get(f"/commands/{key}")).json()
    assert record["status"] == "done"
    assert record["response"] == await answer.json()
