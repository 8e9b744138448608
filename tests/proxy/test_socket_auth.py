"""socket.io access: tokens on connect, refusals by reason, expiry and refresh, filtered views."""

from __future__ import annotations

from typing import Any

import pytest
import socketio
from prometheus_client import REGISTRY

from fleetcore.contract import rooms
from tests.conftest import eventually
from tests.helpers import Subscriber
from tests.proxy.conftest import AuthProxy

FLEET_A = rooms.FLEET_STATE.format(name="fleet_a")


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def fleet_a(*robots: str) -> dict[str, Any]:
    return {"name": "fleet_a", "robots": {r: {"name": r} for r in robots}}


async def refusal(proxy: AuthProxy, **connect: Any) -> dict[str, Any]:
    """Connect with ``connect`` (``auth``, ``headers``), expect a refusal, return its data."""
    sio = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    sio.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio.connect(proxy.url, transports=["websocket"], **connect)
    await sio.disconnect()
    assert len(errors) == 1
    return errors[0]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("auth", "reason"),
    [
        pytest.param(None, "missing_token", id="no-auth-payload"),
        pytest.param({}, "missing_token", id="auth-without-token"),
        pytest.param({"token": "not.a.jwt"}, "malformed", id="garbage"),
    ],
)
async def test_a_connection_without_a_valid_token_is_refused_with_its_reason_and_counted(
    auth_proxy: AuthProxy, auth: dict[str, str] | None, reason: str
) -> None:
    before = counted("fleethub_socket_connect_rejected_total", reason=reason)
    refused = await refusal(auth_proxy, auth=auth)
    assert refused["message"] == f"unauthorized: {reason}"
    assert refused["data"]["reason"] == reason
    assert counted("fleethub_socket_connect_rejected_total", reason=reason) == before + 1


async def test_an_expired_token_is_refused_as_expired(auth_proxy: AuthProxy) -> None:
    refused = await refusal(auth_proxy, auth={"token": auth_proxy.token("alice", ttl_s=-60)})
    assert refused["data"]["reason"] == "expired"


async def test_a_token_of_an_unknown_user_is_refused(auth_proxy: AuthProxy) -> None:
    refused = await refusal(auth_proxy, auth={"token": auth_proxy.token("mallory")})
    assert refused["data"]["reason"] == "unknown_user"


@pytest.mark.parametrize(
    "connect",
    [
        pytest.param(lambda token: {"auth": {"token": token}}, id="rmf-web-auth-payload"),
        pytest.param(lambda token: {"auth": {"token": f"Bearer {token}"}}, id="bearer-in-auth"),
        pytest.param(
            lambda token: {"headers": {"Authorization": f"Bearer {token}"}}, id="bearer-header"
        ),
    ],
)
async def test_the_token_is_taken_from_the_auth_payload_or_the_authorization_header(
    auth_proxy: AuthProxy, connect: Any
) -> None:
    client = Subscriber()
    await client.sio.connect(
        auth_proxy.url, transports=["websocket"], **connect(auth_proxy.token("alice"))
    )
    auth_proxy.clients.append(client)
    assert (await client.subscribe(FLEET_A))["success"]


async def test_a_visible_object_without_the_permission_is_forbidden_another_groups_not_found(
    auth_proxy: AuthProxy,
) -> None:
    await auth_proxy.publish(
        rooms.TASK_STATE.format(task_id="t1"),
        {"booking": {"id": "t1"}, "assigned_to": {"group": "fleet_a", "name": "a1"}},
    )
    carol = await auth_proxy.client("carol")  # group A, door_control only
    answers = {
        room: (await carol.subscribe(room)).get("error", "ok")
        for room in (
            rooms.DOOR_STATE.format(name="door_a"),
            rooms.DOOR_STATE.format(name="door_b"),
            rooms.TASK_STATE.format(task_id="t1"),
            rooms.ALERT_REQUESTS.pattern,
            FLEET_A,
        )
    }
    assert answers == {
        "/doors/door_a/state": "ok",
        "/doors/door_b/state": "not found",
        "/tasks/t1/state": "forbidden",
        "/alerts/requests": "forbidden",
        "/fleets/fleet_a/state": "not found",
    }


async def test_a_task_that_does_not_exist_is_not_found_like_another_groups(
    auth_proxy: AuthProxy,
) -> None:
    alice = await auth_proxy.client("alice")
    ack = await alice.subscribe(rooms.TASK_LOG.format(task_id="no_such_task"))
    assert ack == {"success": False, "error": "not found"}


async def test_an_admin_receives_the_fleet_state_as_published(auth_proxy: AuthProxy) -> None:
    root, bob = await auth_proxy.client("root"), await auth_proxy.client("bob")
    for client in (root, bob):
        assert (await client.subscribe(FLEET_A))["success"]
    await auth_proxy.publish(FLEET_A, fleet_a("a1", "a2", "a3"))
    await eventually(lambda: root.of(FLEET_A) and bob.of(FLEET_A))
    assert set(root.of(FLEET_A)[0]["robots"]) == {"a1", "a2", "a3"}
    assert set(bob.of(FLEET_A)[0]["robots"]) == {"a2"}


async def test_each_distinct_view_is_rendered_and_encoded_once_per_update(
    auth_proxy: AuthProxy,
) -> None:
    """Three Bobs share one filtered view; Alice (whole fleet) and root share the unfiltered one."""
    clients = [await auth_proxy.client(u) for u in ("bob", "bob", "bob", "alice", "root")]
    for client in clients:
        assert (await client.subscribe(FLEET_A))["success"]
    before = counted("fleethub_socket_frames_encoded_total")
    await auth_proxy.publish(FLEET_A, fleet_a("a1", "a2"))
    await eventually(lambda: all(c.of(FLEET_A) for c in clients))
    assert counted("fleethub_socket_frames_encoded_total") == before + 2
    assert [set(c.of(FLEET_A)[0]["robots"]) for c in clients] == [{"a2"}] * 3 + [{"a1", "a2"}] * 2


async def test_a_socket_whose_token_expires_is_told_why_and_disconnected(
    auth_proxy: AuthProxy,
) -> None:
    before = counted("fleethub_socket_closed_total", reason="token_expired")
    alice = await auth_proxy.client("alice", ttl_s=2.0)
    await eventually(lambda: alice.of("token_expired"), timeout=5.0)
    assert alice.of("token_expired")[0]["reason"] == "token_expired"
    await eventually(lambda: not alice.sio.connected)
    assert counted("fleethub_socket_closed_total", reason="token_expired") == before + 1


async def test_a_socket_that_refreshes_its_token_stays_connected_and_keeps_receiving(
    auth_proxy: AuthProxy,
) -> None:
    alice = await auth_proxy.client("alice", ttl_s=2.0)
    # A witness whose token expires after alice's first one: once the proxy has expired it,
    # it is past the moment alice's first token ran out.
    witness = await auth_proxy.client("bob", ttl_s=3.0)
    assert (await alice.subscribe(FLEET_A))["success"]
    answer = await alice.sio.call("refresh_token", {"token": auth_proxy.token("alice")}, timeout=5)
    assert answer["success"] and answer["expires_at"] > 0
    await eventually(lambda: witness.of("token_expired"), timeout=10)
    assert alice.sio.connected and not alice.of("token_expired")
    await auth_proxy.publish(FLEET_A, fleet_a("a1"))
    await eventually(lambda: alice.of(FLEET_A))


async def test_a_refresh_with_another_users_token_is_refused(auth_proxy: AuthProxy) -> None:
    alice = await auth_proxy.client("alice")
    answer = await alice.sio.call("refresh_token", {"token": auth_proxy.token("bob")}, timeout=5)
    assert answer["success"] is False and answer["error"] == "other_user"
    assert (await alice.subscribe(FLEET_A))["success"]  # still alice, still connected


async def test_unknown_events_are_answered_and_counted(auth_proxy: AuthProxy) -> None:
    before = counted(
        "fleethub_socket_events_rejected_total", event="unknown", reason="unknown_event"
    )
    alice = await auth_proxy.client("alice")
    answer = await alice.sio.call("teleport", {"robot": "a1"}, timeout=5)
    assert answer == {"success": False, "error": "unknown event 'teleport'"}
    after = counted(
        "fleethub_socket_events_rejected_total", event="unknown", reason="unknown_event"
    )
    assert after == before + 1
