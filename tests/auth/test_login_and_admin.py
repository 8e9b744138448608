"""Embedded users: logging in, who am I, rmf-web's admin API, and the audit log of changes."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient, TestServer

from fleetcore.bus.memory import InMemoryBus
from fleetcore.store import models as db
from rest_api.app import create_app
from tests.auth.conftest import PASSWORD, ROOT, Client, World

pytestmark = pytest.mark.integration


async def _login(
    world: World, username: str, password: str, *, form: bool = False
) -> tuple[int, dict[str, Any]]:
    credentials = {"username": username, "password": password}
    sent = (
        world.client.post("/auth/token", data=credentials)
        if form
        else world.client.post("/auth/token", json=credentials)
    )
    async with sent as response:
        return response.status, await response.json()


async def test_a_password_logs_in_with_a_bearer_token_that_works(world: World) -> None:
    status, body = await _login(world, "alice", PASSWORD)
    assert status == 200
    assert (body["token_type"], body["expires_in"]) == ("bearer", world.settings.token_ttl_s)
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    async with world.client.get("/user", headers=headers) as response:
        assert await response.json() == {
            "username": "alice",
            "is_admin": False,
            "roles": ["alpha_all"],
        }


async def test_an_oauth2_password_grant_form_logs_in_too(world: World) -> None:
    status, body = await _login(world, "bob", PASSWORD, form=True)
    assert status == 200 and body["access_token"]


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong password"), ("nobody", PASSWORD)]
)
async def test_a_wrong_password_or_user_is_401_bad_credentials(
    world: World, username: str, password: str
) -> None:
    assert await _login(world, username, password) == (401, {"detail": "bad_credentials"})


async def test_passwords_are_stored_as_argon2id_hashes(world: World) -> None:
    user = await db.User.get(username="alice")
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


async def test_permissions_lists_the_groups_and_actions_the_roles_grant(world: World) -> None:
    status, text = await world.call("get", "/permissions", "alice")
    granted = orjson.loads(text)
    assert status == 200
    assert {p["authz_grp"] for p in granted} == {"alpha"}
    assert {"authz_grp": "alpha", "action": "door_control"} in granted


async def test_a_token_of_a_deleted_user_stops_working(world: World) -> None:
    assert (await world.call("delete", "/admin/users/bob", ROOT))[0] == 200
    assert await world.call("get", "/user", "bob") == (401, '{"detail":"unknown_user"}')


async def test_an_admin_builds_a_tenant_that_then_sees_its_fleet(world: World) -> None:
    steps = [
        ("post", "/admin/security_groups", {"name": "gamma"}),
        ("post", "/admin/security_groups/gamma/members", {"kind": "fleet", "name": "alpha_fleet"}),
        ("post", "/admin/roles", {"name": "gamma_readers"}),
        (
            "post",
            "/admin/roles/gamma_readers/permissions",
            {"action": "robot_read", "authz_grp": "gamma"},
        ),
        ("post", "/admin/users", {"username": "carol", "password": "carols password"}),
        ("post", "/admin/users/carol/roles", {"name": "gamma_readers"}),
    ]
    for method, path, body in steps:
        assert (await world.call(method, path, ROOT, body=body))[0] == 200, path
    status, token = await _login(world, "carol", "carols password")
    world.tokens["carol"] = token["access_token"]

    status, text = await world.call("get", "/fleets", "carol")
    assert status == 200
    assert [fleet["name"] for fleet in orjson.loads(text)] == ["alpha_fleet"]
    assert orjson.loads((await world.call("get", "/admin/users/carol", ROOT))[1]) == {
        "username": "carol",
        "is_admin": False,
        "roles": ["gamma_readers"],
    }


async def test_a_permission_on_any_group_name_is_granted_and_the_group_made(
    world: World,
) -> None:
    grant = {"action": "robot_read", "authz_grp": "made_by_rmf_web"}

    status, _ = await world.call("post", "/admin/roles/alpha_all/permissions", ROOT, body=grant)

    assert status == 200
    _, permissions = await world.call("get", "/admin/roles/alpha_all/permissions", ROOT)
    assert grant in orjson.loads(permissions)
    _, group = await world.call("get", "/admin/security_groups/made_by_rmf_web", ROOT)
    assert orjson.loads(group)["fleets"] == []


async def test_a_permission_is_removed_with_rmf_webs_post(world: World) -> None:
    grant = {"action": "robot_read", "authz_grp": "alpha"}
    await world.call("post", "/admin/roles/alpha_all/permissions", ROOT, body=grant)

    path = "/admin/roles/alpha_all/permissions/remove"
    status, _ = await world.call("post", path, ROOT, body=grant)

    assert status == 200
    _, permissions = await world.call("get", "/admin/roles/alpha_all/permissions", ROOT)
    assert grant not in orjson.loads(permissions)


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/admin/roles/alpha_all/permissions", {"action": "fly", "authz_grp": "alpha"}, 422),
        ("/admin/roles/nope/permissions", {"action": "robot_read", "authz_grp": "alpha"}, 404),
        ("/admin/users", {"username": "alice"}, 409),
        ("/admin/users/ghost/roles", {"name": "alpha_all"}, 404),
        ("/admin/security_groups/alpha/members", {"kind": "robot", "name": "no-slash"}, 422),
    ],
)
async def test_a_bad_admin_change_is_refused_with_a_reason(
    world: World,
    path: str,
    body: dict[str, Any],
    status: int,
) -> None:
    answer, text = await world.call("post", path, ROOT, body=body)
    assert answer == status
    assert orjson.loads(text)["detail"]


async def test_make_admin_gives_a_user_everything(world: World) -> None:
    await world.call("post", "/admin/users/alice/make_admin", ROOT, body={"admin": True})
    _, text = await world.call("get", "/fleets", "alice")
    assert sorted(f["name"] for f in orjson.loads(text)) == [
        "alpha_fleet",
        "bravo_fleet",
        "shared_fleet",
    ]


async def test_commands_and_admin_changes_are_audited_with_who_what_and_result(
    world: World,
) -> None:
    await world.call("post", "/doors/alpha_door/request", "alice", body={"mode": 2})
    await world.call("post", "/doors/bravo_door/request", "alice", body={"mode": 2})
    await world.call("post", "/admin/roles", "alice", body={"name": "sneaky"})
    await world.call(
        "post", "/admin/users/bob/password", ROOT, body={"password": "bobs new password"}
    )

    status, text = await world.call("get", "/audit", ROOT)
    entries = orjson.loads(text)
    assert status == 200
    assert [(e["username"], e["action"], e["target"], e["status"]) for e in entries] == [
        (ROOT, "set_user_password", "/admin/users/bob/password", 200),
        ("alice", "create_role", "/admin/roles", 403),
        ("alice", "post_door_request", "/doors/bravo_door/request", 404),
        ("alice", "post_door_request", "/doors/alpha_door/request", 503),
    ]
    assert "bobs new password" not in text
    assert orjson.loads(entries[-1]["detail"]["body"]) == {"mode": 2}


async def test_the_audit_log_pages_newest_first_by_id(world: World) -> None:
    for name in ("r1", "r2", "r3"):
        await world.call("post", "/admin/roles", ROOT, body={"name": name})
    first = orjson.loads((await world.call("get", "/audit", ROOT, limit="2"))[1])
    rest = orjson.loads(
        (await world.call("get", "/audit", ROOT, limit="2", before=str(first[-1]["id"])))[1]
    )
    assert [orjson.loads(e["detail"]["body"])["name"] for e in first + rest] == ["r3", "r2", "r1"]


async def test_an_address_guessing_passwords_is_slowed_to_429_with_retry_after(
    world: World,
) -> None:
    throttled = create_app(
        world.settings.replace(login_attempts_per_min=2), InMemoryBus(), manage_database=False
    )
    client: Client = TestClient(TestServer(throttled, host="127.0.0.1", port=0))
    await client.start_server()
    try:
        statuses = []
        for _ in range(3):
            credentials = {"username": "alice", "password": "guess"}
            async with client.post("/auth/token", json=credentials) as response:
                statuses.append(response.status)
                retry_after = response.headers.get("Retry-After")
    finally:
        await client.close()
    assert statuses == [401, 401, 429]
    assert retry_after is not None and 0 < int(retry_after) <= 30
