"""Whatever a client sends over REST or socket.io, the answer is specific and the writer goes on.

The ingest property test's names, keys, nesting and sizes
(:mod:`tests.hub.test_ingest_properties`), sent instead as REST paths,
bodies and ``Idempotency-Key`` headers, and as socket.io room names, to one
running embedded hub (as an administrator: authentication is off). Every
REST answer must be a 2xx or a specific 4xx, every subscription acknowledged
(joined or refused with a reason), and afterwards the hub still ready, a
site's frame still stored and published, and no change dropped by the
writer. Derandomized: the same examples every run.
"""

from __future__ import annotations

import io
import json
from itertools import count
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as examples
from hypothesis import strategies as st
from yarl import URL

from fleetcore.settings import Settings
from tests.conftest import eventually
from tests.helpers import IngestClient, Subscriber
from tests.hub.test_ingest_properties import dropped, names, nested, published, ready

SPECIFIC = {200, 201, 202, 400, 404, 409, 413, 422}
"""What an administrator may be answered; a 5xx, a 401 or a 403 would be a bug."""
SENTINELS = count()


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No site performs commands here: they are answered pending at once, not after a wait."""
    return settings.replace(command_reply_timeout_s=0.01, command_site_wait_s=0.01)


def calls(name: str, key: str, depth: int, pad: int) -> list[tuple[str, str, Any, dict[str, str]]]:
    """REST calls carrying ``name`` in paths and bodies, ``key`` as an Idempotency-Key, and a
    free-form body nested ``depth`` deep and padded by ``pad`` bytes."""
    path = quote(name, safe="")
    # A header cannot carry a line break or a NUL at all: the client refuses to send them.
    header = {"Idempotency-Key": key} if key.isprintable() else {}
    favorite = {
        "id": "",
        "name": name,
        "unix_millis_earliest_start_time": 0,
        "category": name,
        "description": {"deep": nested(depth), "pad": "x" * pad},
    }
    return [
        ("GET", f"/doors/{path}/state", None, {}),
        ("GET", f"/tasks/{path}/state", None, {}),
        ("GET", f"/tasks/{path}/log", None, {}),
        ("GET", f"/admin/users/{path}", None, {}),
        ("POST", "/admin/roles", {"name": name}, {}),
        ("POST", "/admin/security_groups", {"name": name}, {}),
        ("POST", f"/admin/roles/{path}/permissions", {"action": name, "authz_grp": name}, {}),
        ("POST", "/favorite_tasks", favorite, {}),
        ("POST", f"/doors/{path}/request", {"mode": 2}, header),
        ("POST", "/tasks/cancel_task", {"type": "cancel_task_request", "task_id": name}, header),
    ]


@examples(
    max_examples=100,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(
    name=names,
    key=names,
    depth=st.sampled_from([0, 1, 63, 64, 65, 254, 300, 1100]),
    pad=st.sampled_from([0, 1000, (1 << 20) - 400, (1 << 20) + 100]),
)
# What REST first answered with a 500: an emoji name over its column, a NUL, 100 "é" as a key.
@example(name="😀" * 65, key="é" * 100, depth=0, pad=0)
@example(name="a\x00b", key="%" * 200, depth=300, pad=0)
async def test_no_rest_call_or_subscription_stops_the_writer_and_every_answer_is_specific(
    base: str,
    site: IngestClient,
    http: aiohttp.ClientSession,
    subscriber: Subscriber,
    name: str,
    key: str,
    depth: int,
    pad: int,
) -> None:
    dropped_before = dropped()
    for method, path, body, headers in calls(name, key, depth, pad):
        url = URL(base + path, encoded=True)
        data = io.BytesIO(json.dumps(body).encode()) if body is not None else None
        headers = {**headers, "Content-Type": "application/json"}
        async with http.request(method, url, data=data, headers=headers) as answer:
            assert answer.status in SPECIFIC, (method, path, answer.status, await answer.text())
    for room in (name, f"/doors/{name}/state", f"/tasks/{name}/log"):
        ack = await subscriber.subscribe(room)
        assert ack.get("success") is True or ack.get("error"), (room, ack)

    sentinel = f"sentinel-{next(SENTINELS)}"
    await site.send("door_state_update", {"door_name": sentinel, "current_mode": {"value": 0}})
    await eventually(lambda: published(http, base, sentinel), timeout=30)
    assert await ready(http, base)
    assert dropped() == dropped_before, "the writer dropped a change the edge accepted"
