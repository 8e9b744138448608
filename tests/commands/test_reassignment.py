"""Reassignments through the command path: cancel, then dispatch, each sent to RMF once.

The site is played by the test on /_internal, so it decides when (and
whether) RMF answers: the dispatch waits for the cancel's answer, a refused
cancel ends the reassignment, and a hub that stops between the two (a
restart in both passes; a SIGKILL and a standby taking over on PostgreSQL
and Redis) leaves the next hub to finish it without sending anything twice.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from fleetcore.contract.commands import REQUEST_LABEL, request_id_for
from fleetcore.settings import Settings
from fleetcore.store import models
from hub.derive.reassign import reassign_key
from tests.commands.conftest import Processes
from tests.conftest import TEST_DATABASE_URL, eventually, start_embedded
from tests.helpers import IngestClient, fleet
from tests.processes import fleethub, wait_http

CANCEL, DISPATCH = reassign_key("t1", "cancel"), reassign_key("t1", "dispatch")
NEW_TASK = "patrol.t1-again"


@pytest.fixture
def reassigning(settings: Settings) -> Settings:
    """The policy on; a silent robot is offline after 0.4 s; RMF's state watched 1.5 s on restart."""
    return settings.replace(
        derive_reassign=True,
        derive_stale_s=0.2,
        derive_offline_s=0.4,
        derive_restart_grace_s=0.0,
        derive_tick_ms=50,
        command_reply_timeout_s=0.3,
        command_site_wait_s=1.5,
    )


@pytest.fixture
async def hub(reassigning: Settings) -> AsyncIterator[str]:
    """The embedded system with the policy on; its base URL."""
    server = await start_embedded(reassigning)
    try:
        yield _base(server)
    finally:
        await server.close()


def _task(status: str, **extra: Any) -> dict[str, Any]:
    """RMF's task_state of t1, a patrol on robot r1 of fleet f."""
    return {
        "booking": {"id": "t1", "labels": ["zone=kitchen"]},
        "category": "patrol",
        "detail": {"places": ["lobby"]},
        "status": status,
        "assigned_to": {"group": "f", "name": "r1"},
        **extra,
    }


CANCELED = _task("canceled", cancellation={"unix_millis_request_time": 1, "labels": []})
"""t1 as RMF reports it once the cancel was acted on."""


async def _robot_goes_silent_mid_task(rmf: IngestClient) -> dict[str, Any]:
    """r1 reports once, working on t1, then nothing: the cancel the hub then sends RMF."""
    await rmf.send("fleet_state_update", fleet("f", {"r1": (0.0, 0.0)}))
    await rmf.send("task_state_update", _task("underway"))
    return await _next_command(rmf)


async def _next_command(rmf: IngestClient) -> dict[str, Any]:
    frame = await rmf.next_reply()
    assert frame["type"] == "command", frame
    return frame["data"]  # type: ignore[no-any-return]


async def _answer(rmf: IngestClient, command: dict[str, Any], **response: Any) -> None:
    await rmf.send("command_response", {"request_id": command["request_id"], **response})


async def _answer_dispatch(rmf: IngestClient, dispatch: dict[str, Any]) -> None:
    """RMF accepts the dispatch: a queued task carrying the request's labels."""
    labels = dispatch["body"]["request"]["labels"]
    state = {
        "booking": {"id": NEW_TASK, "labels": labels},
        "category": "patrol",
        "status": "queued",
    }
    await _answer(rmf, dispatch, success=True, state=state)


async def _nothing_more(rmf: IngestClient) -> None:
    with pytest.raises(TimeoutError):
        await rmf.next_reply(timeout=0.5)


def _base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def _events(kind: str) -> list[models.DerivedEvent]:
    return await models.DerivedEvent.filter(kind=kind)


async def test_the_cancel_is_sent_first_under_the_key_from_the_task_id(
    hub: str,
) -> None:
    async with IngestClient(hub) as rmf:
        cancel = await _robot_goes_silent_mid_task(rmf)
    assert cancel["kind"] == "cancel_task"
    assert cancel["request_id"] == request_id_for(CANCEL)
    assert cancel["body"]["task_id"] == "t1"
    assert cancel["body"]["type"] == "cancel_task_request"


async def test_the_dispatch_goes_to_the_fleet_only_once_rmf_answered_the_cancel(
    hub: str,
) -> None:
    async with IngestClient(hub) as rmf:
        cancel = await _robot_goes_silent_mid_task(rmf)
        await _nothing_more(rmf)
        await _answer(rmf, cancel, success=True)
        await rmf.send("task_state_update", CANCELED)
        dispatch = await _next_command(rmf)
        await _answer_dispatch(rmf, dispatch)
        await _nothing_more(rmf)
    assert dispatch["kind"] == "dispatch_task"
    assert dispatch["request_id"] == request_id_for(DISPATCH)
    request = dispatch["body"]["request"]
    assert request["fleet_name"] == "f" and request["description"] == {"places": ["lobby"]}
    assert request["labels"] == [
        "zone=kitchen",
        "reassigned_from=t1",
        f"{REQUEST_LABEL}={request_id_for(DISPATCH)}",
    ]


async def test_a_finished_reassignment_is_an_event_naming_the_new_task_and_executed_rows(
    hub: str,
) -> None:
    async with IngestClient(hub) as rmf:
        await _answer(rmf, await _robot_goes_silent_mid_task(rmf), success=True)
        await _answer_dispatch(rmf, await _next_command(rmf))
        (event,) = await eventually(lambda: _events("task_redispatched"))
    assert (event.task_id, event.fleet, event.robot) == ("t1", "f", "r1")
    assert f'"task_id":"{NEW_TASK}"' in event.data
    rows = await models.HubCommand.filter(task_id="t1").values_list("key", "executed")
    assert sorted(rows) == sorted([(CANCEL, True), (DISPATCH, True)])


async def test_a_cancel_rmf_refuses_ends_the_reassignment_without_a_dispatch(
    hub: str,
) -> None:
    async with IngestClient(hub) as rmf:
        cancel = await _robot_goes_silent_mid_task(rmf)
        refusal = [{"code": 1, "category": "cancel", "detail": "already completed"}]
        await _answer(rmf, cancel, success=False, errors=refusal)
        (event,) = await eventually(lambda: _events("task_reassign_failed"))
        await _nothing_more(rmf)
    assert event.severity == "error"
    assert '"step":"cancel"' in event.data and "already completed" in event.data
    assert not await models.CommandRecord.filter(key=DISPATCH).exists()
    assert not await models.HubCommand.filter(executed=False).exists()


async def test_a_hub_restarted_between_cancel_and_dispatch_sends_each_once(
    reassigning: Settings,
) -> None:
    first = await start_embedded(reassigning)
    async with IngestClient(_base(first)) as rmf:
        await _robot_goes_silent_mid_task(rmf)
        # RMF acts on the cancel, but its answer dies with the hub.
    await first.close()

    second = await start_embedded(reassigning)
    try:
        async with IngestClient(_base(second)) as rmf:
            await rmf.send("task_state_update", CANCELED)
            dispatch = await _next_command(rmf)
            assert dispatch["request_id"] == request_id_for(DISPATCH)
            await _answer_dispatch(rmf, dispatch)
            await eventually(lambda: _events("task_redispatched"))
            await _nothing_more(rmf)
        assert await models.CommandRecord.filter(key__in=[CANCEL, DISPATCH]).count() == 2
        assert len(await _events("task_reassigned")) == 1
    finally:
        await second.close()


@pytest.fixture
def stack_env() -> dict[str, str]:
    return {
        "FLEETHUB_DERIVE_REASSIGN": "on",
        "FLEETHUB_DERIVE_STALE_S": "0.2",
        "FLEETHUB_DERIVE_OFFLINE_S": "0.4",
        "FLEETHUB_DERIVE_RESTART_GRACE_S": "0",
        "FLEETHUB_DERIVE_TICK_MS": "50",
        "FLEETHUB_COMMAND_REPLY_TIMEOUT_S": "0.5",
        "FLEETHUB_COMMAND_SITE_WAIT_S": "4",
    }


@pytest.mark.integration
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="runs in the PostgreSQL + Redis pass")
async def test_a_standby_taking_over_between_cancel_and_dispatch_sends_each_once(
    stack: tuple[Processes, str, str],
) -> None:
    procs, leader_url, api_url = stack
    standby = await fleethub("standby", "hub", procs.env, procs.log_dir).start()
    procs.running.append(standby)
    standby_url = await standby.url("hub")
    async with IngestClient(leader_url) as rmf:
        await _robot_goes_silent_mid_task(rmf)
        leader = next(p for p in procs.running if p.name == "hub")
        leader.signal(signal.SIGKILL)
        await leader.stop()

    await wait_http(standby_url + "/readyz")
    async with IngestClient(standby_url) as rmf, aiohttp.ClientSession(api_url) as http:
        await rmf.send("task_state_update", CANCELED)
        dispatch = await _next_command(rmf)
        assert dispatch["request_id"] == request_id_for(DISPATCH)
        await _answer_dispatch(rmf, dispatch)

        async def outcome() -> list[dict[str, Any]]:
            async with http.get("/events", params={"kind": "task_redispatched"}) as resp:
                return await resp.json()  # type: ignore[no-any-return]

        await eventually(outcome, timeout=10)
        await _nothing_more(rmf)
        for key in (CANCEL, DISPATCH):
            async with http.get(f"/commands/{key}") as resp:
                assert (await resp.json())["status"] == "done"
        async with http.get("/events", params={"kind": "task_reassigned"}) as resp:
            assert len(await resp.json()) == 1
