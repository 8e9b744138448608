"""Favorite tasks (rmf-web's /favorite_tasks): saved, listed, replaced and deleted by rest_api."""

from __future__ import annotations

from typing import Any

from tests.rest_api.conftest import Client


def favorite(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "",
        "name": "morning patrol",
        "unix_millis_earliest_start_time": 1_700_000_000_000,
        "priority": {"type": "binary", "value": 1},
        "category": "patrol",
        "description": {"places": ["lobby"], "rounds": 2},
        "user": "",
        "task_definition_id": "patrol",
        **overrides,
    }


async def test_a_favorite_keeps_its_task_definition_id(client: Client) -> None:
    await client.post("/favorite_tasks", json=favorite(task_definition_id="compose-clean"))

    [listed] = await (await client.get("/favorite_tasks")).json()

    assert listed["task_definition_id"] == "compose-clean"


async def test_a_new_favorite_gets_an_id_and_is_listed(client: Client) -> None:
    answer = await client.post("/favorite_tasks", json=favorite())
    saved = await answer.json()

    assert answer.status == 200
    assert saved["id"]
    assert saved == {**favorite(), "id": saved["id"], "user": saved["user"]}
    assert await (await client.get("/favorite_tasks")).json() == [saved]


async def test_saving_with_an_id_replaces_that_favorite(client: Client) -> None:
    saved = await (await client.post("/favorite_tasks", json=favorite())).json()

    await client.post("/favorite_tasks", json=favorite(id=saved["id"], name="evening patrol"))

    listed = await (await client.get("/favorite_tasks")).json()
    assert [(f["id"], f["name"]) for f in listed] == [(saved["id"], "evening patrol")]


async def test_a_deleted_favorite_is_gone_and_deleting_it_again_is_404(client: Client) -> None:
    saved = await (await client.post("/favorite_tasks", json=favorite())).json()

    assert (await client.delete(f"/favorite_tasks/{saved['id']}")).status == 200
    assert await (await client.get("/favorite_tasks")).json() == []
    again = await client.delete(f"/favorite_tasks/{saved['id']}")
    assert again.status == 404
    assert "does not exist" in (await again.json())["detail"]


async def test_a_favorite_without_a_name_is_a_422(client: Client) -> None:
    answer = await client.post("/favorite_tasks", json=favorite(name=""))

    assert answer.status == 422
    assert ["body", "name"] in [e["loc"] for e in (await answer.json())["detail"]]
