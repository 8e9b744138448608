"""Alerts over a real socket: rmf-web's endpoints, responses with who and when, hub resolutions."""

from __future__ import annotations

from typing import Any

import orjson

from fleetcore.store import models as db
from tests.rest_api.conftest import Client


def alert(
    alert_id: str = "a1",
    *,
    task_id: str | None = "t1",
    responses: tuple[str, ...] = ("ok", "retry"),
) -> dict[str, Any]:
    return {
        "id": alert_id,
        "unix_millis_alert_time": 1000,
        "title": "Door stuck",
        "subtitle": "L1",
        "message": "The door does not open",
        "display": True,
        "tier": "warning",
        "responses_available": list(responses),
        "alert_parameters": [{"name": "door", "value": "d1"}],
        "task_id": task_id,
    }


async def _post(client: Client, body: dict[str, Any]) -> None:
    response = await client.post("/alerts/request", json=body)
    assert response.status == 201, await response.text()


async def test_a_posted_alert_is_stored_unpublished_and_read_back(client: Client) -> None:
    await _post(client, alert())
    response = await client.get("/alerts/request/a1")
    assert response.status == 200 and await response.json() == alert()
    row = await db.AlertRequest.get(id="a1")
    assert row.seq is None and row.condition is None


async def test_posting_an_existing_alert_id_is_a_conflict(client: Client) -> None:
    await _post(client, alert())
    response = await client.post("/alerts/request", json=alert())
    assert response.status == 409


async def test_an_invalid_alert_is_a_422_naming_the_field(client: Client) -> None:
    response = await client.post("/alerts/request", json={**alert(), "tier": "panic"})
    assert response.status == 422
    assert (await response.json())["detail"][0]["loc"] == ["body", "tier"]


async def test_an_unknown_alert_is_a_404(client: Client) -> None:
    assert (await client.get("/alerts/request/nope")).status == 404


async def test_a_response_records_who_and_when(client: Client) -> None:
    """Who is the authenticated user: with auth off, ``anonymous`` (tests/auth: a real user)."""
    await _post(client, alert())
    response = await client.post("/alerts/request/a1/respond", params={"response": "ok"})
    assert response.status == 201
    body = await response.json()
    assert (body["id"], body["response"], body["responder"]) == ("a1", "ok", "admin")
    assert body["unix_millis_response_time"] > 1_700_000_000_000
    assert await (await client.get("/alerts/request/a1/response")).json() == body


async def test_a_response_the_alert_does_not_offer_is_a_400(client: Client) -> None:
    await _post(client, alert())
    response = await client.post("/alerts/request/a1/respond", params={"response": "nope"})
    assert response.status == 400


async def test_a_second_response_is_a_conflict(client: Client) -> None:
    await _post(client, alert())
    await client.post("/alerts/request/a1/respond", params={"response": "ok"})
    response = await client.post("/alerts/request/a1/respond", params={"response": "retry"})
    assert response.status == 409


async def test_responding_to_an_unknown_alert_is_a_404(client: Client) -> None:
    response = await client.post("/alerts/request/nope/respond", params={"response": "ok"})
    assert response.status == 404


async def test_an_alert_without_a_response_has_a_404_response(client: Client) -> None:
    await _post(client, alert())
    assert (await client.get("/alerts/request/a1/response")).status == 404


async def _derived(alert_id: str, *, resolved_at: int | None) -> None:
    """An alert as the hub writes it, optionally resolved by the hub."""
    await db.AlertRequest.create(
        id=alert_id,
        unix_millis_alert_time=2000,
        task_id="t1",
        response_expected=True,
        condition=f"robot_offline/f/{alert_id}",
        data=orjson.dumps(alert(alert_id, responses=("acknowledge",))).decode(),
        seq=7,
    )
    if resolved_at is not None:
        await db.AlertResolution.create(id=alert_id, unix_millis_time=resolved_at, seq=8)


async def test_a_resolved_alert_answers_resolved_by_the_hub(client: Client) -> None:
    await _derived("d1", resolved_at=5000)
    body = await (await client.get("/alerts/request/d1/response")).json()
    assert body == {
        "id": "d1",
        "unix_millis_response_time": 5000,
        "response": "resolved",
        "responder": "fleethub",
    }


async def test_a_resolved_alert_cannot_be_responded_to(client: Client) -> None:
    await _derived("d1", resolved_at=5000)
    response = await client.post("/alerts/request/d1/respond", params={"response": "acknowledge"})
    assert response.status == 409


async def test_unresponded_requests_leave_out_responded_resolved_and_informational(
    client: Client,
) -> None:
    await _post(client, alert("open"))
    await _post(client, alert("answered"))
    await _post(client, alert("info", responses=()))
    await client.post("/alerts/request/answered/respond", params={"response": "ok"})
    await _derived("resolved", resolved_at=5000)
    await _derived("derived-open", resolved_at=None)
    response = await client.get("/alerts/unresponded_requests")
    assert [a["id"] for a in await response.json()] == ["derived-open", "open"]


async def test_alerts_of_a_task_are_unresponded_by_default(client: Client) -> None:
    await _post(client, alert("x1"))
    await _post(client, alert("x2"))
    await _post(client, alert("other", task_id="t2"))
    await client.post("/alerts/request/x1/respond", params={"response": "ok"})
    response = await client.get("/alerts/requests/task/t1")
    assert [a["id"] for a in await response.json()] == ["x2"]


async def test_alerts_of_a_task_with_unresponded_false_lists_all(client: Client) -> None:
    await _post(client, alert("x1"))
    await _post(client, alert("x2"))
    await client.post("/alerts/request/x1/respond", params={"response": "ok"})
    response = await client.get("/alerts/requests/task/t1", params={"unresponded": "false"})
    assert [a["id"] for a in await response.json()] == ["x1", "x2"]
