"""An idempotency key names one request: reusing it for another is refused, never answered."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from prometheus_client import REGISTRY

from fleetcore.contract.commands import request_id_for
from simulator import SimulatorService
from tests.commands.conftest import dispatch_body


def conflicts() -> float:
    return REGISTRY.get_sample_value("fleethub_command_key_conflicts_total") or 0.0


async def _post(
    http: aiohttp.ClientSession, path: str, body: dict[str, Any], key: str
) -> tuple[int, Any]:
    async with http.post(path, json=body, headers={"Idempotency-Key": key}) as answer:
        return answer.status, await answer.json()


async def test_a_key_reused_with_a_different_body_is_a_422_and_counted(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    first_status, first = await _post(http, "/tasks/dispatch_task", dispatch_body(), "k1")
    before = conflicts()

    status, answer = await _post(http, "/tasks/dispatch_task", dispatch_body("lobby"), "k1")

    assert first_status == 200
    assert status == 422
    error = answer["detail"][0]
    assert (error["loc"], error["type"]) == (
        ["header", "Idempotency-Key"],
        "idempotency_key_reused",
    )
    assert "different request" in error["msg"]
    assert conflicts() == before + 1
    assert site.commands.requests == {request_id_for("k1"): 1}
    record = await (await http.get("/commands/k1")).json()
    assert record["response"] == first


async def test_a_key_reused_for_another_kind_of_command_is_a_422(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    _, first = await _post(http, "/tasks/dispatch_task", dispatch_body(), "k2")
    cancel = {"type": "cancel_task_request", "task_id": first["state"]["booking"]["id"]}

    status, answer = await _post(http, "/tasks/cancel_task", cancel, "k2")

    assert status == 422
    assert answer["detail"][0]["type"] == "idempotency_key_reused"
    assert len(site.commands.requests) == 1


async def test_the_refusal_tells_nothing_of_the_request_the_key_was_first_used_for(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    _, first = await _post(http, "/tasks/dispatch_task", dispatch_body(), "k4")
    cancel = {"type": "cancel_task_request", "task_id": "another"}

    _, answer = await _post(http, "/tasks/cancel_task", cancel, "k4")

    told = str(answer)
    assert "dispatch" not in told and first["state"]["booking"]["id"] not in told


async def test_the_same_key_and_body_again_returns_the_stored_outcome(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    first = await _post(http, "/tasks/dispatch_task", dispatch_body(), "k3")

    assert await _post(http, "/tasks/dispatch_task", dispatch_body(), "k3") == first


async def test_of_two_racing_requests_with_one_key_only_the_recorded_one_gets_the_outcome(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    answers = await asyncio.gather(
        _post(http, "/tasks/dispatch_task", dispatch_body(), "race"),
        _post(http, "/tasks/dispatch_task", dispatch_body("lobby"), "race"),
    )

    assert sorted(status for status, _ in answers) == [200, 422]
    assert site.commands.requests == {request_id_for("race"): 1}


async def test_a_key_in_the_hubs_own_namespace_is_a_422(http: aiohttp.ClientSession) -> None:
    status, answer = await _post(
        http, "/tasks/dispatch_task", dispatch_body(), "fleethub-schedule/1/0"
    )

    assert status == 422
    assert "the hub's own" in answer["detail"][0]["msg"]


async def test_a_key_over_its_byte_limit_is_a_422_even_when_short_in_characters(
    site: SimulatorService, http: aiohttp.ClientSession
) -> None:
    refused = REGISTRY.get_sample_value(
        "fleethub_command_keys_refused_total", {"reason": "too_long"}
    )
    status, answer = await _post(http, "/tasks/dispatch_task", dispatch_body(), "é" * 100)

    assert status == 422
    error = answer["detail"][0]
    assert (error["loc"], error["type"]) == (["header", "Idempotency-Key"], "string_too_long")
    assert error["msg"] == "200 bytes in UTF-8, over the 128-byte limit"
    assert site.commands.requests == {}
    assert (
        REGISTRY.get_sample_value("fleethub_command_keys_refused_total", {"reason": "too_long"})
        == (refused or 0.0) + 1
    )
