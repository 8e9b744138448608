"""Valid JSON that no column or encoder can hold is a specific 4xx where it enters, never a 500.

JSON allows integers of any size and ``\\ud800``; the store and orjson take
neither. Names are limited in UTF-8 bytes, as their columns are
(:mod:`fleetcore.contract.limits`), whatever their length in characters.
"""

from __future__ import annotations

from typing import Any

import pytest

from fleetcore.bus import Bus
from fleetcore.settings import Settings
from rest_api.app import create_app
from tests.rest_api.conftest import AiohttpClient, Client

HUGE = "1" * 30
"""An integer of 30 digits: beyond 64 bits."""


@pytest.fixture
async def secured(
    aiohttp_client: AiohttpClient, auth_settings: Settings, bus: Bus, database: None
) -> Client:
    """The REST app with authentication on, no one logged in."""
    return await aiohttp_client(create_app(auth_settings, bus, manage_database=False))


async def _post(client: Client, path: str, text: str) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    async with client.post(path, data=text.encode(), headers=headers) as response:
        return response.status, await response.json()


async def test_an_integer_beyond_64_bits_at_login_is_a_422_that_echoes_it(secured: Client) -> None:
    status, answer = await _post(secured, "/auth/token", f'{{"username": {HUGE}, "password": 1}}')

    assert status == 422
    assert answer["detail"][0]["loc"] == ["body", "username"]
    assert answer["detail"][0]["input"] == HUGE


@pytest.mark.parametrize("value", [HUGE, '"\\ud800"', f'[{{"deep": -{HUGE}}}]'])
async def test_what_a_free_form_field_cannot_store_is_a_422(client: Client, value: str) -> None:
    favorite = (
        '{"id": "", "name": "n", "unix_millis_earliest_start_time": 0, "category": "patrol", '
        f'"description": {{"x": {value}}}}}'
    )

    status, answer = await _post(client, "/favorite_tasks", favorite)

    assert status == 422
    assert answer["detail"][0]["loc"] == ["body"]
    assert answer["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/admin/roles", {"name": "é" * 129}),
        ("/admin/security_groups", {"name": "😀" * 65}),
        ("/admin/users", {"username": "x\x00y"}),
    ],
    ids=["role-258-bytes", "group-260-bytes", "user-with-nul"],
)
async def test_an_admin_name_its_column_cannot_hold_is_a_422_in_fastapis_shape(
    client: Client, path: str, body: dict[str, str]
) -> None:
    async with client.post(path, json=body) as response:
        assert response.status == 422
        error = (await response.json())["detail"][0]
    assert error["loc"] == ["body"] and "name" in error["msg"]


async def test_a_security_group_member_is_limited_in_bytes_per_part(client: Client) -> None:
    assert (await client.post("/admin/security_groups", json={"name": "g"})).status == 200
    robot = {"kind": "robot", "name": "fleet/" + "é" * 200}

    async with client.post("/admin/security_groups/g/members", json=robot) as response:
        assert response.status == 422
        assert "robot name" in (await response.json())["detail"][0]["msg"]


@pytest.mark.parametrize("path", ["/admin/users/a%00b", "/admin/roles/a%00b/permissions"])
async def test_a_name_no_column_can_hold_in_a_path_is_not_found(client: Client, path: str) -> None:
    async with client.get(path) as response:
        assert response.status == 404


@pytest.mark.parametrize("mode", ["false", "true"])
async def test_a_boolean_is_no_door_mode(client: Client, mode: str) -> None:
    status, answer = await _post(client, "/doors/main/request", f'{{"mode": {mode}}}')

    assert status == 422
    assert answer["detail"][0]["loc"] == ["body", "mode"]
