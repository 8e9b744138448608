"""Per-connection limits: subscribe and other events are rate-limited, big messages close only their sender."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from fleetcore.contract import rooms
from fleetcore.settings import Settings
from tests.conftest import eventually
from tests.helpers import JWT_SECRET
from tests.proxy.conftest import AuthProxy

BURST = 3
MAX_MESSAGE = 2048
FLEET_A = rooms.FLEET_STATE.format(name="fleet_a")


@pytest.fixture
def auth_settings(settings: Settings) -> Settings:
    """A burst of three events and no refill to speak of, so the fourth is over the limit."""
    return settings.replace(
        auth_mode="jwt",
        jwt_secret=JWT_SECRET,
        socket_subscribe_rate=0.01,
        socket_subscribe_burst=BURST,
        socket_command_rate=0.01,
        socket_command_burst=BURST,
        socket_max_message_bytes=MAX_MESSAGE,
    )


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_subscribes_over_the_limit_are_answered_rate_limited_and_counted(
    auth_proxy: AuthProxy,
) -> None:
    before = counted("fleethub_subscribe_rejected_total", reason="rate_limited")
    alice = await auth_proxy.client("alice")
    answers = [await alice.subscribe(FLEET_A) for _ in range(BURST + 1)]
    assert [a["success"] for a in answers] == [True] * BURST + [False]
    assert answers[-1]["error"] == "rate_limited" and answers[-1]["retry_after_s"] > 0
    assert counted("fleethub_subscribe_rejected_total", reason="rate_limited") == before + 1


async def test_a_rate_limited_client_does_not_limit_another(auth_proxy: AuthProxy) -> None:
    alice, other = await auth_proxy.client("alice"), await auth_proxy.client("alice")
    for _ in range(BURST + 1):
        await alice.subscribe(FLEET_A)
    assert (await other.subscribe(FLEET_A))["success"]
    await auth_proxy.publish(FLEET_A, {"name": "fleet_a", "robots": {}})
    await eventually(lambda: alice.of(FLEET_A) and other.of(FLEET_A))


async def test_other_events_have_their_own_limit(auth_proxy: AuthProxy) -> None:
    alice = await auth_proxy.client("alice")
    token = auth_proxy.token("alice")
    answers = [
        await alice.sio.call("refresh_token", {"token": token}, timeout=5) for _ in range(BURST + 1)
    ]
    assert [a["success"] for a in answers] == [True] * BURST + [False]
    assert answers[-1]["error"] == "rate_limited"
    assert (await alice.subscribe(FLEET_A))["success"]


async def test_a_message_over_the_size_limit_closes_only_its_sender(auth_proxy: AuthProxy) -> None:
    before = counted("fleethub_socket_closed_total", reason="message_too_large")
    big, good = await auth_proxy.client("alice"), await auth_proxy.client("alice")
    assert (await good.subscribe(FLEET_A))["success"]
    await big.sio.emit("subscribe", {"room": FLEET_A, "pad": "x" * MAX_MESSAGE})
    await eventually(lambda: not big.sio.connected)
    assert counted("fleethub_socket_closed_total", reason="message_too_large") == before + 1
    await auth_proxy.publish(FLEET_A, {"name": "fleet_a", "robots": {}})
    await eventually(lambda: good.of(FLEET_A))
