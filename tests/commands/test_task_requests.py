"""A dispatched task's request stays readable (rmf-web's GET /tasks/{id}/request and /tasks/requests)."""

from __future__ import annotations

import aiohttp

from simulator import SimulatorService
from tests.commands.conftest import dispatch_body

POSTED = {k: v for k, v in dispatch_body()["request"].items() if k != "requester"}
"""The request as posted; the requester is the authenticated user's name, whatever the body says."""


def without_requester(request: dict[str, object] | None) -> dict[str, object] | None:
    return None if request is None else {k: v for k, v in request.items() if k != "requester"}


async def _dispatched(http: aiohttp.ClientSession) -> str:
    async with http.post("/tasks/dispatch_task", json=dispatch_body()) as answer:
        assert answer.status == 200
        return str((await answer.json())["state"]["booking"]["id"])


async def test_a_dispatched_tasks_request_is_the_one_posted(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    task_id = await _dispatched(http)

    async with http.get(f"/tasks/{task_id}/request") as answer:
        assert answer.status == 200
        assert without_requester(await answer.json()) == POSTED


async def test_requests_of_unknown_tasks_are_left_out_as_rmf_web_does(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    first, second = await _dispatched(http), await _dispatched(http)

    async with http.get(f"/tasks/requests?task_ids={second},nope,{first}") as answer:
        requests = await answer.json()

    assert [without_requester(r) for r in requests] == [POSTED, POSTED]


async def test_the_request_of_an_unknown_task_is_404(http: aiohttp.ClientSession) -> None:
    async with http.get("/tasks/nope/request") as answer:
        assert answer.status == 404
