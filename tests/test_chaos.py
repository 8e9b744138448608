"""Chaos: the leader hangs longer than its lease while a site sends task log entries at 10/s.

Real processes on PostgreSQL and a private Redis: two ``fleethub hub`` (a
leader and a standby) and a ``fleethub proxy``. The site is a
:class:`~fleetcore.site_client.SiteClient`, as the simulator and the bridge
use, reaching the hubs through a TCP forwarder that behaves like a
Kubernetes Service: each new connection goes to a hub whose /readyz says
ready (none ready: refused), and an established connection stays where it
is, as kube-proxy's connection tracking keeps it, so the site keeps writing
into the frozen leader's socket until it notices the silence. (Not
round-robin over both hubs: a Service routes only to ready endpoints, and
the standby refuses ingest anyway.)

The leader is frozen (SIGSTOP) for longer than its lease, then thawed. Every
entry sent must be stored exactly once (database rows) and delivered exactly
once to a socket.io subscriber of the task's log room. The time from the
freeze until the new leader's first publication reaches the subscriber is
printed: a figure for the report, not an assertion.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

from fleetcore.contract.ingest import IngestType, encode, ingest_url
from fleetcore.site_client import SiteClient
from fleetcore.store import models
from fleetcore.store.db import tortoise_config
from tests.conftest import TEST_DATABASE_URL, eventually
from tests.forwarder import Forwarder, Target
from tests.helpers import TEST_SITE_TOKEN, Subscriber, running_site
from tests.processes import HubPair, hub_pair, ready

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason="runs in the PostgreSQL + Redis pass"),
]

LEASE_S = 3.0
HANG_S = LEASE_S + 4.0
"""How long the leader stays frozen: well past its lease."""
HEARTBEAT_S = 1.0
"""The site's heartbeat: a silent hub is left 1.5 s after its last word, half the lease."""
RATE_HZ = 10.0
TASK = "chaos-task"
LOG_ROOM = f"/tasks/{TASK}/log"


def entry(number: int) -> bytes:
    line = {"seq": number, "tier": "info", "unix_millis_time": 1, "text": f"entry {number}"}
    return encode(IngestType.TASK_LOG, {"task_id": TASK, "log": [line]})


class Sender:
    """Sends one log entry every 1/RATE_HZ seconds, durably, until stopped."""

    def __init__(self, client: SiteClient) -> None:
        self.client = client
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        for number in itertools.count():
            self.client.send(entry(number), durable=True)
            self.sent = number + 1
            await asyncio.sleep(1 / RATE_HZ)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def received_entries(subscriber: Subscriber) -> list[int]:
    return [line["seq"] for pub in subscriber.of(LOG_ROOM) for line in pub["data"]["log"]]


def epochs(subscriber: Subscriber) -> list[int]:
    return [pub["epoch"] for pub in subscriber.of(LOG_ROOM)]


@pytest.fixture
async def pair(tmp_path: Path, database_url: str) -> AsyncIterator[HubPair]:
    env = {
        "FLEETHUB_HUB_LEASE_S": str(LEASE_S),
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
        "FLEETHUB_AUTH_MODE": "off",  # about failover; tests/proxy covers socket auth
    }
    async with hub_pair(tmp_path, database_url, env) as running:
        yield running


@contextlib.asynccontextmanager
async def service(pair: HubPair) -> AsyncIterator[Forwarder]:
    """The Kubernetes Service in front of the hubs."""

    async def ready_hub() -> Target | None:
        for url in pair.urls:
            if await ready(url):
                host, port = url.removeprefix("http://").split(":")
                return host, int(port)
        return None

    async with Forwarder(ready_hub) as forwarder:
        yield forwarder


async def stored(database_url: str) -> list[int]:
    await Tortoise.init(config=tortoise_config(database_url))
    try:
        rows: list[Any] = await models.TaskLogEntry.filter(task_id=TASK).values_list(
            "log_seq", flat=True
        )
        return [int(row) for row in rows]
    finally:
        await Tortoise.close_connections()


async def test_a_leader_that_hangs_past_its_lease_loses_and_duplicates_nothing(
    pair: HubPair, database_url: str
) -> None:
    (leader, _), (leader_url, standby_url) = pair.hubs, pair.urls
    subscriber = await Subscriber(envelopes=True).connect(pair.proxy_url)
    await subscriber.subscribe(LOG_ROOM)
    async with service(pair) as forwarder:
        client = SiteClient(
            ingest_url(f"http://127.0.0.1:{forwarder.port}", TEST_SITE_TOKEN),
            on_connect=list,
            heartbeat_s=HEARTBEAT_S,
        )
        sender = Sender(client)
        async with running_site(client):
            sender.start()
            try:
                await eventually(lambda: len(received_entries(subscriber)) >= 20, timeout=20)
                old_epoch = epochs(subscriber)[-1]

                leader.signal(signal.SIGSTOP)
                frozen = time.monotonic()
                await eventually(lambda: ready(standby_url), timeout=HANG_S + 20, interval=0.05)
                takeover = time.monotonic() - frozen
                await eventually(
                    lambda: epochs(subscriber)[-1] > old_epoch, timeout=HANG_S + 20, interval=0.05
                )
                published = time.monotonic() - frozen
                await asyncio.sleep(max(0.0, HANG_S - (time.monotonic() - frozen)))
                leader.signal(signal.SIGCONT)
                await eventually(lambda: _not_ready(leader_url), timeout=20)
                thawed_at = sender.sent
                await eventually(lambda: sender.sent >= thawed_at + 20, timeout=20)
            finally:
                await sender.stop()
            await eventually(lambda: client.unacked == 0, timeout=30)
            await eventually(lambda: len(received_entries(subscriber)) >= sender.sent, timeout=30)
    await subscriber.close()

    print(
        f"\nchaos: frozen {HANG_S:.0f} s with a {LEASE_S:.0f} s lease and a {HEARTBEAT_S:.0f} s"
        f" site heartbeat: standby ready after {takeover:.2f} s, new leader published after"
        f" {published:.2f} s; {sender.sent} entries sent, {client.stats.resent} sent again,"
        f" {client.connections} connections"
    )
    rows = await stored(database_url)
    assert sorted(rows) == list(range(sender.sent)), "every entry stored exactly once"
    delivered = Counter(received_entries(subscriber))
    assert delivered == Counter(range(sender.sent)), "every entry delivered exactly once"
    assert sorted(set(epochs(subscriber))) == [old_epoch, old_epoch + 1]


async def _not_ready(url: str) -> bool:
    return await ready(url) is None
