"""Rules of embedded accounts: a changed password ends old sessions, an administrator remains."""

from __future__ import annotations

import pytest

from tests.auth.conftest import PASSWORD, ROOT, World

pytestmark = pytest.mark.integration

NEW_PASSWORD = "a brand new passphrase"


async def _token(world: World, username: str, password: str) -> str:
    credentials = {"username": username, "password": password}
    async with world.client.post("/auth/token", json=credentials) as response:
        assert response.status == 200, await response.text()
        token: str = (await response.json())["access_token"]
        return token


async def _whoami(world: World, token: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"}
    async with world.client.get("/user", headers=headers) as response:
        return response.status, await response.text()


async def test_a_password_change_revokes_the_tokens_issued_for_the_old_one(world: World) -> None:
    old = await _token(world, "alice", PASSWORD)
    assert (await _whoami(world, old))[0] == 200

    changed = await world.call(
        "post", "/admin/users/alice/password", ROOT, body={"password": NEW_PASSWORD}
    )

    assert changed[0] == 200
    assert await _whoami(world, old) == (401, '{"detail":"revoked"}')
    assert (await _whoami(world, await _token(world, "alice", NEW_PASSWORD)))[0] == 200


async def test_the_last_administrator_can_neither_demote_nor_delete_itself(world: World) -> None:
    demoted = await world.call(
        "post", f"/admin/users/{ROOT}/make_admin", ROOT, body={"admin": False}
    )
    deleted = await world.call("delete", f"/admin/users/{ROOT}", ROOT)

    assert demoted[0] == deleted[0] == 409
    assert "last administrator" in demoted[1]
    assert (await world.call("get", "/admin/users", ROOT))[0] == 200


async def test_an_administrator_who_is_not_the_last_may_step_down(world: World) -> None:
    made = await world.call("post", "/admin/users/alice/make_admin", ROOT, body={"admin": True})

    demoted = await world.call(
        "post", f"/admin/users/{ROOT}/make_admin", ROOT, body={"admin": False}
    )

    assert (made[0], demoted[0]) == (200, 200)
