"""Hub failover with fencing, with real processes on PostgreSQL and a private Redis.

Two hubs share one database: one leads, one stands by. The leader is frozen
(SIGSTOP) past its lease; the standby takes over with the next epoch; the old
leader is thawed (SIGCONT) and must write nothing more. A client on a proxy
sees one epoch change and every committed publication of its log room.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import aiohttp
import pytest
from tortoise import Tortoise

from fleetcore.store import models
from fleetcore.store.db import tortoise_config
from tests.conftest import TEST_DATABASE_URL, eventually
from tests.helpers import TEST_SITE_TOKEN, Subscriber, fleet
from tests.processes import Process, hub_pair, ready

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="runs in the PostgreSQL + Redis pass"),
]

LEASE_S = 3.0
HANDOVER_LEASE_S = 120.0
"""A lease far longer than any deadline here: a takeover within one was handed over, not waited out."""
PROBE = "failover-probe"


class Adapter:
    """A fleet adapter behind a load balancer: it talks to whichever hub is ready."""

    def __init__(self, hubs: list[str]) -> None:
        self.hubs = hubs
        self.sent = 0
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async with aiohttp.ClientSession() as session:
            while True:
                target = None
                for hub in self.hubs:
                    if await ready(hub):
                        target = hub
                        break
                if target is None:
                    await asyncio.sleep(0.1)
                    continue
                try:
                    async with session.ws_connect(
                        target.replace("http", "ws", 1) + f"/_internal?token={TEST_SITE_TOKEN}"
                    ) as ws:
                        checked = time.monotonic()
                        while not ws.closed:
                            await ws.send_json(
                                {
                                    "type": "fleet_state_update",
                                    "data": fleet("f1", {"r1": (float(self.sent), 0.0)}),
                                }
                            )
                            await ws.send_json(
                                {
                                    "type": "task_log_update",
                                    "data": {
                                        "task_id": PROBE,
                                        "log": [
                                            {
                                                "seq": self.sent % 2**32,
                                                "tier": "info",
                                                "unix_millis_time": 1,
                                                "text": f"tick {self.sent}",
                                            }
                                        ],
                                    },
                                }
                            )
                            self.sent += 1
                            await asyncio.sleep(0.05)
                            if time.monotonic() - checked > 0.5:
                                checked = time.monotonic()
                                if not await ready(target):
                                    break
                except (aiohttp.ClientError, ConnectionResetError):
                    await asyncio.sleep(0.1)


@pytest.fixture
def lease_s() -> float:
    return LEASE_S


@pytest.fixture
async def two_hubs(
    tmp_path: Path, database_url: str, lease_s: float
) -> AsyncIterator[tuple[list[Process], list[str], str, str]]:
    env = {
        "FLEETHUB_HUB_LEASE_S": str(lease_s),
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
        "FLEETHUB_AUTH_MODE": "off",  # about failover; tests/proxy covers socket auth
    }
    async with hub_pair(tmp_path, database_url, env) as pair:
        yield pair.hubs, pair.urls, pair.proxy_url, database_url


async def test_the_standby_takes_over_a_frozen_leader_which_then_writes_nothing(
    two_hubs: tuple[list[Process], list[str], str, str],
) -> None:
    (leader, _standby), (leader_url, standby_url), proxy_url, database_url = two_hubs
    assert await ready(leader_url) and not await ready(standby_url)
    client = await Subscriber(envelopes=True).connect(proxy_url)
    log_room = f"/tasks/{PROBE}/log"
    await client.subscribe("/fleets/f1/state")
    await client.subscribe(log_room)
    adapter = Adapter([leader_url, standby_url])
    adapter.task = asyncio.create_task(adapter.run())
    try:
        await eventually(lambda: len(client.of(log_room)) >= 10, timeout=10)
        old_epoch = client.of(log_room)[-1]["epoch"]

        leader.signal(signal.SIGSTOP)
        frozen = time.monotonic()
        await eventually(lambda: ready(standby_url), timeout=LEASE_S + 10, interval=0.05)
        print(f"takeover after {time.monotonic() - frozen:.2f} s (lease {LEASE_S} s)")
        await eventually(lambda: client.of(log_room)[-1]["epoch"] == old_epoch + 1, timeout=10)

        leader.signal(signal.SIGCONT)
        # The thawed leader answers again, and says it no longer leads.
        await eventually(lambda: _standing_by(leader_url), timeout=LEASE_S + 10, interval=0.05)
        assert await ready(leader_url) is None, "the thawed leader must step down"
        sent_before = len(client.of(log_room))
        await eventually(lambda: len(client.of(log_room)) > sent_before + 10, timeout=10)
    finally:
        adapter.task.cancel()
        await asyncio.gather(adapter.task, return_exceptions=True)
        await client.close()

    await Tortoise.init(config=tortoise_config(database_url))
    try:
        first_new = await models.Outbox.filter(epoch=old_epoch + 1).order_by("seq").first()
        new_rows = cast(
            "list[int]",
            await models.TaskLogEntry.filter(task_id=PROBE)
            .order_by("seq")
            .values_list("seq", flat=True),
        )
        first_takeover_seq = (
            min(s for s in new_rows if s > 0) if first_new is None else first_new.seq
        )
        assert (
            await models.RoomState.filter(epoch=old_epoch, seq__gte=first_takeover_seq).count() == 0
        )
        assert await models.Outbox.filter(epoch=old_epoch, seq__gte=first_takeover_seq).count() == 0
    finally:
        await Tortoise.close_connections()

    envelopes = client.of(log_room)
    seqs = [env["seq"] for env in envelopes]
    assert seqs == sorted(set(seqs)), "no duplicate, never backwards"
    epochs = [env["epoch"] for env in envelopes]
    assert sorted(set(epochs)) == [old_epoch, old_epoch + 1] and epochs == sorted(epochs)
    committed = [s for s in new_rows if seqs[0] <= s <= seqs[-1]]
    assert seqs == committed, "the client saw every committed publication of its log room"
    assert not client.resyncs


@pytest.mark.parametrize("lease_s", [HANDOVER_LEASE_S])
async def test_a_leader_stopped_with_sigterm_hands_over_before_its_lease_expires(
    two_hubs: tuple[list[Process], list[str], str, str],
) -> None:
    (leader, _standby), (leader_url, standby_url), _proxy, _db = two_hubs
    assert await ready(leader_url)
    leader.signal(signal.SIGTERM)
    # Ready well before the lease could have run out: it was handed over.
    await eventually(lambda: ready(standby_url), timeout=HANDOVER_LEASE_S / 4, interval=0.05)
    assert leader.proc is not None and await leader.proc.wait() == 0


async def _standing_by(url: str) -> bool:
    """Whether a hub answers /readyz and says it is not ready (a standby), not merely silent."""
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.3)) as session,
            session.get(url + "/readyz") as resp,
        ):
            return resp.status == 503
    except (aiohttp.ClientError, TimeoutError):
        return False
