"""RMF's answers: the first completes its command; a duplicate, late or unknown one is counted only."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from fleetcore.contract.commands import request_id_for
from tests.commands.conftest import dispatch_body, ignored
from tests.conftest import eventually
from tests.helpers import IngestClient


async def _next_command(rmf: IngestClient) -> dict[str, Any]:
    frame = await rmf.next_reply()
    assert frame["type"] == "command", frame
    return frame["data"]  # type: ignore[no-any-return]


async def _dispatched(
    http: aiohttp.ClientSession, rmf: IngestClient, key: str, answer: dict[str, Any]
) -> aiohttp.ClientResponse:
    """POST a dispatch, answer it as RMF with ``answer``, return the REST response."""
    posting = asyncio.create_task(
        http.post("/tasks/dispatch_task", json=dispatch_body(), headers={"Idempotency-Key": key})
    )
    command = await _next_command(rmf)
    assert command["request_id"] == request_id_for(key)
    assert command["kind"] == "dispatch_task"
    await rmf.send("command_response", {"request_id": command["request_id"], **answer})
    return await posting


async def test_a_duplicate_a_late_and_an_unknown_answer_are_ignored_and_counted(
    embedded: TestServer, http: aiohttp.ClientSession
) -> None:
    first = {"success": True, "state": {"booking": {"id": "t1"}, "status": "queued"}}
    before = {reason: ignored(reason) for reason in ("duplicate", "late", "unknown")}
    async with IngestClient(str(embedded.make_url("")).rstrip("/")) as rmf:
        answered = await _dispatched(http, rmf, "k-dup", first)
        assert answered.status == 200
        assert await answered.json() == first

        request_id = request_id_for("k-dup")
        await rmf.send("command_response", {"request_id": request_id, **first})
        await rmf.send("command_response", {"request_id": request_id, "success": False})
        await rmf.send("command_response", {"request_id": "fh-nobody-asked", "success": True})
        await eventually(lambda: all(ignored(reason) == before[reason] + 1 for reason in before))

        record = await (await http.get("/commands/k-dup")).json()
        assert (record["status"], record["response"]) == ("done", first)
        # The command path keeps working after the ignored answers.
        later = await _dispatched(http, rmf, "k-next", {"success": False, "errors": []})
        assert later.status == 400
        assert await later.json() == {"success": False, "errors": []}
