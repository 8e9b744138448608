"""The REST side of commands: validation, a slow RMF, no RMF at all."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.contract.commands import request_id_for
from fleetcore.settings import Settings
from tests.commands.conftest import dispatch_body
from tests.conftest import eventually, start_embedded
from tests.helpers import IngestClient

INVALID = [
    ("/tasks/dispatch_task", {"type": "dispatch_task_request"}, ["body", "request"]),
    (
        "/tasks/dispatch_task",
        {"type": "dispatch_task_request", "request": {"description": {}}},
        ["body", "request", "category"],
    ),
    (
        "/tasks/dispatch_task",
        {"type": "dispatch_task_request", "request": {"category": "patrol"}},
        ["body", "request", "description"],
    ),
    (
        "/tasks/dispatch_task",
        {**dispatch_body(), "request": {**dispatch_body()["request"], "priority": 3}},
        ["body", "request", "priority"],
    ),
    (
        "/tasks/robot_task",
        {"type": "robot_task_request", "fleet": "f", "request": dispatch_body()["request"]},
        ["body", "robot"],
    ),
    ("/tasks/cancel_task", {"type": "kill_task_request", "task_id": "t"}, ["body", "type"]),
    ("/tasks/kill_task", {"type": "kill_task_request", "task_id": 7}, ["body", "task_id"]),
    ("/doors/d1/request", {"mode": "open"}, ["body", "mode"]),
    ("/lifts/l1/request", {"request_type": 1, "door_mode": 2}, ["body", "destination"]),
]


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    INVALID,
    ids=[f"{p}:{'.'.join(map(str, loc))}" for p, _, loc in INVALID],
)
async def test_an_invalid_body_is_a_422_naming_the_field(
    http: aiohttp.ClientSession, path: str, body: dict[str, Any], loc: list[str]
) -> None:
    answer = await http.post(path, json=body)

    assert answer.status == 422
    assert loc in [error["loc"] for error in (await answer.json())["detail"]]


async def test_a_body_that_is_not_json_is_a_422(http: aiohttp.ClientSession) -> None:
    answer = await http.post("/tasks/dispatch_task", data=b"{nope")

    assert answer.status == 422
    assert (await answer.json())["detail"][0]["loc"] == ["body"]


async def test_without_an_answer_in_time_the_reply_is_202_and_the_command_can_be_read(
    settings: Settings,
) -> None:
    server = await start_embedded(settings.replace(command_reply_timeout_s=0.3))
    try:
        base = str(server.make_url("")).rstrip("/")
        async with IngestClient(base) as rmf, aiohttp.ClientSession(base) as http:
            headers = {"Idempotency-Key": "slow"}
            answer = await http.post("/tasks/dispatch_task", json=dispatch_body(), headers=headers)
            assert answer.status == 202
            assert await answer.json() == {"command": "slow", "status": "pending"}
            location = answer.headers["Location"]
            assert location == "/commands/slow"
            pending = await (await http.get(location)).json()
            assert (pending["status"], pending["request_id"]) == ("pending", request_id_for("slow"))

            command = (await rmf.next_reply())["data"]
            await rmf.send(
                "command_response", {"request_id": command["request_id"], "success": True}
            )

            async def done() -> bool:
                record = await (await http.get(location)).json()
                return bool(record["status"] == "done")

            await eventually(done)
    finally:
        await server.close()


async def test_with_no_site_connected_in_time_a_command_fails_unsent(settings: Settings) -> None:
    server = await start_embedded(settings.replace(command_site_wait_s=0.2))
    try:
        async with aiohttp.ClientSession(server.make_url("")) as http:
            answer = await http.post("/tasks/dispatch_task", json=dispatch_body())
            assert answer.status == 400
            body = await answer.json()
            assert body["success"] is False
            assert "no RMF site" in body["errors"][0]["detail"]
    finally:
        await server.close()


async def test_a_command_waits_for_a_site_that_connects_late(
    embedded: TestServer, http: aiohttp.ClientSession
) -> None:
    posting = asyncio.create_task(
        http.post("/tasks/dispatch_task", json=dispatch_body(), headers={"Idempotency-Key": "late"})
    )

    async def recorded() -> bool:
        async with http.get("/commands/late") as answer:
            return answer.status == 200

    await eventually(recorded)  # recorded by the hub, held with no site to send it to
    assert not posting.done()
    async with IngestClient(str(embedded.make_url("")).rstrip("/")) as rmf:
        command = (await rmf.next_reply())["data"]
        await rmf.send("command_response", {"request_id": command["request_id"], "success": True})
        assert (await posting).status == 200


async def test_an_unknown_command_is_404(http: aiohttp.ClientSession) -> None:
    assert (await http.get("/commands/never-sent")).status == 404
