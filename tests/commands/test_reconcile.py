"""A command whose hub died before RMF answered: finished from RMF's state or reported unknown.

Never sent again, and its outcome is in its room too. The site is played by the test on /_internal: it receives
the command and stays silent (its answer dies with the hub); to the next
hub it reports the task RMF created, as RMF keeps reporting its tasks.
Once with the embedded system stopped and started again on the same
database (both passes), once with a hub process SIGKILLed (PostgreSQL and
Redis pass).
"""

from __future__ import annotations

import functools
import signal
from typing import Any

import aiohttp
import pytest

from fleetcore.contract.commands import REQUEST_LABEL
from fleetcore.settings import Settings
from tests.commands.conftest import Processes, dispatch_body
from tests.conftest import TEST_DATABASE_URL, eventually, start_embedded
from tests.helpers import IngestClient, Subscriber
from tests.processes import wait_http

DOOR = {"mode": 2}


async def _send_unanswered(
    http: aiohttp.ClientSession, rmf: IngestClient
) -> tuple[dict[str, Any], list[Any]]:
    """A dispatch and a door request reach RMF, whose answers never come: both 202."""
    answers = []
    for path, body, key in (
        ("/tasks/dispatch_task", dispatch_body(), "lost-dispatch"),
        ("/doors/door_1/request", DOOR, "lost-door"),
    ):
        async with http.post(path, json=body, headers={"Idempotency-Key": key}) as answer:
            answers.append((answer.status, await answer.json()))
    dispatch = (await rmf.next_reply())["data"]
    assert (await rmf.next_reply())["data"]["kind"] == "door_request"
    return dispatch, answers


def _created_task(dispatch: dict[str, Any]) -> dict[str, Any]:
    """The task_state RMF reports for the task the dispatch created (the label comes along)."""
    request = dispatch["body"]["request"]
    assert f"{REQUEST_LABEL}={dispatch['request_id']}" in request["labels"]
    return {
        "booking": {"id": "patrol.lost-1", "labels": request["labels"]},
        "category": "patrol",
        "status": "queued",
    }


async def _reconciled(
    http: aiohttp.ClientSession, rmf: IngestClient, dispatch: dict[str, Any]
) -> None:
    """The next hub: RMF reports its task; the dispatch is done, the door request unknown."""
    await rmf.send("task_state_update", _created_task(dispatch))

    async def outcome(key: str) -> Any:
        record = await (await http.get(f"/commands/{key}")).json()
        return record if record["status"] != "pending" else None

    done = await eventually(lambda: outcome("lost-dispatch"), timeout=10)
    assert done["status"] == "done"
    assert done["response"]["state"]["booking"]["id"] == "patrol.lost-1"
    unknown = await eventually(lambda: outcome("lost-door"), timeout=10)
    assert unknown["status"] == "unknown"
    assert "not sent again" in unknown["response"]["detail"]

    async with http.post(
        "/doors/door_1/request", json=DOOR, headers={"Idempotency-Key": "lost-door"}
    ) as retry:
        assert retry.status == 202
        assert (await retry.json())["status"] == "unknown"
    async with http.post(
        "/tasks/dispatch_task", json=dispatch_body(), headers={"Idempotency-Key": "lost-dispatch"}
    ) as retry:
        assert (await retry.json())["state"]["booking"]["id"] == "patrol.lost-1"
    with pytest.raises(TimeoutError):
        await rmf.next_reply(timeout=0.3)  # nothing was sent to RMF again


@pytest.fixture
def quick(settings: Settings) -> Settings:
    """RMF's answer is waited for briefly, and RMF's state watched for 1.5 s after a restart."""
    return settings.replace(command_reply_timeout_s=0.3, command_site_wait_s=1.5)


async def test_after_a_restart_a_lost_answer_is_found_in_rmfs_state_or_reported_unknown(
    quick: Settings,
) -> None:
    first = await start_embedded(quick)
    base = str(first.make_url("")).rstrip("/")
    async with IngestClient(base) as rmf, aiohttp.ClientSession(base) as http:
        dispatch, answers = await _send_unanswered(http, rmf)
    await first.close()
    assert [status for status, _ in answers] == [202, 202]

    second = await start_embedded(quick)
    base = str(second.make_url("")).rstrip("/")
    watcher = Subscriber()
    try:
        async with IngestClient(base) as rmf, aiohttp.ClientSession(base) as http:
            await _reconciled(http, rmf, dispatch)
        await watcher.connect(base)
        for key, status in (("lost-dispatch", "done"), ("lost-door", "unknown")):
            assert (await watcher.subscribe(f"/commands/{key}"))["success"]
            await eventually(functools.partial(watcher.of, f"/commands/{key}"))
            assert watcher.of(f"/commands/{key}")[-1]["status"] == status
    finally:
        await watcher.close()
        await second.close()


@pytest.fixture
def stack_env() -> dict[str, str]:
    # The new hub watches RMF's state for 4 s: long enough for this test's site to reconnect
    # and report, on a loaded machine.
    return {"FLEETHUB_COMMAND_REPLY_TIMEOUT_S": "0.5", "FLEETHUB_COMMAND_SITE_WAIT_S": "4"}


@pytest.mark.integration
@pytest.mark.skipif(not TEST_DATABASE_URL, reason="runs in the PostgreSQL + Redis pass")
async def test_after_a_hub_sigkill_a_lost_answer_is_found_in_rmfs_state_or_reported_unknown(
    stack: tuple[Processes, str, str],
) -> None:
    procs, hub_url, api_url = stack
    async with aiohttp.ClientSession(api_url) as http:
        async with IngestClient(hub_url) as rmf:
            dispatch, answers = await _send_unanswered(http, rmf)
            hub = next(p for p in procs.running if p.name == "hub")
            hub.signal(signal.SIGKILL)
            await hub.stop()
        assert [status for status, _ in answers] == [202, 202]
        await procs.start("hub", "hub")
        await wait_http(hub_url + "/readyz")
        async with IngestClient(hub_url) as rmf:
            await _reconciled(http, rmf, dispatch)
