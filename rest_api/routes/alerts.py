"""Alerts with rmf-web's model and paths.

Who writes what: the hub derives alerts (robot offline, stuck, battery,
fleet escalation...) and publishes every alert room. rest_api stores alert
requests posted by clients and operators' responses directly, as operator
data, and publishes nothing: the hub publishes each stored row on
``/alerts/requests`` or ``/alerts/responses`` on its next tick (about a
second), stamping it with its seq. Until then the row has no seq, and a
REST read already returns it.

Who sees what: an alert follows the robot (or fleet) its parameters name,
or its task; responding needs ``alert_respond`` there. The responder is the
authenticated user. Creating alerts over REST is for administrators (and
the integrations they run).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from fleetcore.auth import Permission, Principal
from fleetcore.store import models as db
from rest_api.access import ADMIN, commands, forbidden, principal_of, reads
from rest_api.keys import BUS_KEY
from rest_api.models import ErrorBody
from rest_api.query import MAX_LIMIT
from rest_api.registry import ApiRoutes
from rest_api.responses import JSON, json_array, json_body, not_found, positioned
from rest_api.visibility import alert_visible, visible_alerts

routes = ApiRoutes("Alerts")

HUB_RESPONDER = "fleethub"
RESOLVED = "resolved"
ShortText = Annotated[str, Field(max_length=1024)]


class AlertParameter(BaseModel):
    name: ShortText
    value: ShortText


class AlertRequest(BaseModel):
    """rmf-web's alert request."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=256)]
    unix_millis_alert_time: Annotated[int, Field(ge=0, lt=2**63)]
    title: ShortText
    subtitle: ShortText
    message: Annotated[str, Field(max_length=8192)]
    display: bool
    tier: Literal["info", "warning", "error"]
    responses_available: Annotated[list[ShortText], Field(max_length=32)]
    alert_parameters: Annotated[list[AlertParameter], Field(max_length=64)]
    task_id: Annotated[str, Field(max_length=256)] | None = None


class AlertResponse(BaseModel):
    """rmf-web's alert response, plus who responded (``fleethub`` when the hub resolved it)."""

    id: str
    unix_millis_response_time: int
    response: str
    responder: str


class RespondQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    response: Annotated[str, Field(min_length=1, max_length=256)] = Field(
        description="One of the alert's responses_available."
    )


class TaskAlertsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    unresponded: bool = Field(True, description="Only alerts nobody has responded to yet.")


class PageQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = Field(100, description="Most alerts.")
    offset: Annotated[int, Field(ge=0, le=2**31 - 1)] = Field(0, description="Alerts to skip.")


def _conflict(detail: str) -> web.HTTPConflict:
    return web.HTTPConflict(text=orjson.dumps({"detail": detail}).decode(), content_type=JSON)


def _bad_request(detail: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=orjson.dumps({"detail": detail}).decode(), content_type=JSON)


def _answered() -> Q:
    """Alerts with an operator response or a hub resolution."""
    return Q(id__in=Subquery(db.AlertResponse.all().values("id"))) | Q(
        id__in=Subquery(db.AlertResolution.all().values("id"))
    )


def unresponded_alerts() -> QuerySet[db.AlertRequest]:
    """Alerts that expect a response and have none (nor a resolution), newest first."""
    return (
        db.AlertRequest.filter(response_expected=True)
        .exclude(_answered())
        .order_by("-unix_millis_alert_time", "id")
    )


@routes.post(
    "/alerts/request", body=AlertRequest, response=AlertRequest, errors=(201, 409), access=ADMIN
)
async def create_new_alert(request: web.Request, body: AlertRequest) -> web.Response:
    """Creates a new alert; 201, or 409 when an alert with this id exists.

    Stored at once; the hub publishes it on /alerts/requests on its next tick.
    """
    try:
        await db.AlertRequest.create(
            id=body.id,
            unix_millis_alert_time=body.unix_millis_alert_time,
            task_id=body.task_id,
            response_expected=bool(body.responses_available),
            condition=None,
            data=body.model_dump_json(),
            seq=None,
        )
    except IntegrityError:
        raise _conflict(f"alert {body.id!r} already exists") from None
    return web.Response(body=body.model_dump_json(), status=201, content_type=JSON)


async def _visible_alert(request: web.Request) -> tuple[str, db.AlertRequest]:
    """The alert named in the path, if the user may see it (else 404, existence not leaked)."""
    alert_id = request.match_info["alert_id"]
    row = await visible_alert(principal_of(request), alert_id)
    if row is None:
        raise not_found(f"no alert {alert_id!r}")
    return alert_id, row


async def visible_alert(principal: Principal, alert_id: str) -> db.AlertRequest | None:
    """The alert's row if ``principal`` may see it; None also for another group's alert."""
    row = await db.AlertRequest.get_or_none(id=alert_id)
    if row is None or not await alert_visible(principal, orjson.loads(row.data)):
        return None
    return row


@routes.get(
    "/alerts/request/{alert_id}",
    response=AlertRequest,
    errors=(404,),
    access=reads(Permission.robot_read),
)
async def get_alert(request: web.Request) -> web.Response:
    """Gets an alert by its id."""
    _, row = await _visible_alert(request)
    return web.Response(body=row.data, content_type=JSON)


# rmf-web takes the response as a query parameter of a POST, not as a JSON body.
@routes.route(
    "post",
    "/alerts/request/{alert_id}/respond",
    query=RespondQuery,
    response=AlertResponse,
    errors=(201, 404, 409),
    bodies={400: ErrorBody},
    access=commands(Permission.alert_respond),
)
async def respond_to_alert(request: web.Request, *, query: RespondQuery) -> web.Response:
    """Responds to an alert; the response must be one of its responses_available.

    201 with the recorded response; 400 for a response the alert does not
    offer, 409 when it was already responded to or resolved. The responder is
    the authenticated user.
    """
    answer = await record_response(
        principal_of(request), request.match_info["alert_id"], query.response
    )
    return web.Response(body=answer.model_dump_json(), status=201, content_type=JSON)


async def record_response(principal: Principal, alert_id: str, response: str) -> AlertResponse:
    """Store ``principal``'s response to an alert (REST and GraphQL), or raise REST's answer.

    404 for an alert the user may not see, 403 without ``alert_respond`` on
    it, 400 for a response it does not offer, 409 when it was already
    responded to or resolved: one response per alert, so the alert id is
    the idempotency key.
    """
    row = await visible_alert(principal, alert_id)
    if row is None:
        raise not_found(f"no alert {alert_id!r}")
    data = orjson.loads(row.data)
    if not await alert_visible(principal, data, Permission.alert_respond):
        raise forbidden(f"{principal.username} may not respond to alert {alert_id!r}")
    available = data.get("responses_available") or []
    if response not in available:
        raise _bad_request(f"{response!r} is not one of {available}")
    if await db.AlertResolution.exists(id=alert_id):
        raise _conflict(f"alert {alert_id!r} was resolved")
    answer = AlertResponse(
        id=alert_id,
        unix_millis_response_time=time.time_ns() // 1_000_000,
        response=response,
        responder=principal.username[:256],
    )
    try:
        await db.AlertResponse.create(
            id=alert_id,
            unix_millis_response_time=answer.unix_millis_response_time,
            response=answer.response,
            responder=answer.responder,
            data=answer.model_dump_json(),
            seq=None,
        )
    except IntegrityError:
        raise _conflict(f"alert {alert_id!r} was already responded to") from None
    return answer


@routes.get(
    "/alerts/request/{alert_id}/response",
    response=AlertResponse,
    errors=(404,),
    access=reads(Permission.robot_read),
)
async def get_alert_response(request: web.Request) -> web.Response:
    """Gets the response to an alert: an operator's, or ``resolved`` by the hub when its condition cleared."""
    alert_id, _ = await _visible_alert(request)
    row = await db.AlertResponse.get_or_none(id=alert_id)
    if row is not None:
        return web.Response(body=row.data, content_type=JSON)
    resolution = await db.AlertResolution.get_or_none(id=alert_id)
    if resolution is None:
        raise not_found(f"no response to alert {alert_id!r}")
    return json_body(
        AlertResponse(
            id=alert_id,
            unix_millis_response_time=resolution.unix_millis_time,
            response=RESOLVED,
            responder=HUB_RESPONDER,
        ).model_dump()
    )


@routes.get_query(
    "/alerts/requests/task/{task_id}",
    query=TaskAlertsQuery,
    response=list[AlertRequest],
    positioned=True,
    access=reads(Permission.task_read),
)
async def get_alerts_of_task(request: web.Request, query: TaskAlertsQuery) -> web.Response:
    """The alerts of a task, oldest first; by default only those nobody responded to yet."""
    position = await request.app[BUS_KEY].position()
    alerts = db.AlertRequest.filter(task_id=request.match_info["task_id"])
    if query.unresponded:
        alerts = alerts.exclude(_answered())
    rows: list[Any] = await alerts.order_by("unix_millis_alert_time", "id").values_list(
        "data", flat=True
    )
    return positioned(json_array(await visible_alerts(principal_of(request), rows)), position)


@routes.get_query(
    "/alerts/unresponded_requests",
    query=PageQuery,
    response=list[AlertRequest],
    positioned=True,
    access=reads(Permission.robot_read),
)
async def get_unresponded_alerts(request: web.Request, query: PageQuery) -> web.Response:
    """Alerts that expect a response and have none yet (nor were resolved), newest first.

    Paged over the alerts the user may see.
    """
    position = await request.app[BUS_KEY].position()
    principal = principal_of(request)
    unresponded = unresponded_alerts()
    if principal.is_admin:
        page = unresponded.offset(query.offset).limit(query.limit)
        rows: list[Any] = await page.values_list("data", flat=True)
        return positioned(json_array(r.encode() for r in rows), position)
    # Visibility depends on each alert's parameters and task, so filter before paging.
    everything: list[Any] = await unresponded.values_list("data", flat=True)
    visible = await visible_alerts(principal, everything)
    return positioned(json_array(visible[query.offset : query.offset + query.limit]), position)
