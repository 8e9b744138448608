"""A command answered 202 can be waited for in its room, ``/commands/{key}``."""

from __future__ import annotations

import aiohttp

from fleetcore.settings import Settings
from tests.commands.conftest import dispatch_body
from tests.conftest import eventually, start_embedded
from tests.helpers import IngestClient, Subscriber


async def test_after_a_202_the_commands_room_delivers_its_outcome(settings: Settings) -> None:
    server = await start_embedded(settings.replace(command_reply_timeout_s=0.3))
    base = str(server.make_url("")).rstrip("/")
    watcher = Subscriber()
    try:
        async with IngestClient(base) as rmf, aiohttp.ClientSession(base) as http:
            headers = {"Idempotency-Key": "slow"}
            answer = await http.post("/tasks/dispatch_task", json=dispatch_body(), headers=headers)
            assert answer.status == 202
            await watcher.connect(base)
            assert (await watcher.subscribe(answer.headers["Location"]))["success"]
            assert watcher.of("/commands/slow") == []  # nothing known yet

            command = (await rmf.next_reply())["data"]
            await rmf.send(
                "command_response", {"request_id": command["request_id"], "success": True}
            )

            outcome = (await eventually(lambda: watcher.of("/commands/slow")))[-1]
            assert (outcome["command"], outcome["status"]) == ("slow", "done")
            assert outcome == await (await http.get("/commands/slow")).json()
    finally:
        await watcher.close()
        await server.close()
