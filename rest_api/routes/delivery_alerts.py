"""rmf-web's delivery alerts (deprecated there in favour of ``/alerts``), kept for its dashboard.

RMF raises a delivery alert on ``delivery_alert_request``; ros_bridge relays
it and the hub publishes it on the ``/delivery_alerts`` room. An operator's
response is a command through the hub that a site publishes on
``delivery_alert_response``; once it is sent, the hub publishes the response
on the same room, as rmf-web does. Delivery alerts are not stored (neither
does rmf-web): the room's replay window is their only history.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from fleetcore.auth import Permission
from fleetcore.contract.commands import CommandKind
from fleetcore.contract.rmf import DeliveryAlert
from rest_api.access import commands
from rest_api.registry import ApiRoutes
from rest_api.routes.commands import RmfResponse, submit_shaped

routes = ApiRoutes("DeliveryAlerts")

Text = Annotated[str, Field(max_length=1024)]


class DeliveryAlertResponseQuery(BaseModel):
    """rmf-web takes the whole alert as query parameters."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    category: Literal["missing", "wrong", "obstructed", "cancelled"]
    tier: Literal["warning", "error"]
    task_id: Annotated[str, Field(min_length=1, max_length=256)]
    action: Literal["waiting", "cancel", "override", "resume"]
    message: Text


@routes.route(
    "post",
    "/delivery_alerts/{delivery_alert_id}/response",
    query=DeliveryAlertResponseQuery,
    response=DeliveryAlert,
    errors=(202, 400, 404),
    access=commands(Permission.alert_respond),
)
async def respond_to_delivery_alert(
    request: web.Request, *, query: DeliveryAlertResponseQuery
) -> web.Response:
    """Answer a delivery alert (``alert_respond`` on its task's robot); the response once sent.

    Deprecated in rmf-web: use ``/alerts`` where RMF raises alerts.
    """
    body = delivery_alert_response(request.match_info["delivery_alert_id"], query)

    def sent(_: RmfResponse) -> tuple[Any, int]:
        return body, 200

    return await submit_shaped(request, CommandKind.DELIVERY_ALERT_RESPONSE, body, sent)


def delivery_alert_response(alert_id: str, query: DeliveryAlertResponseQuery) -> dict[str, Any]:
    """The DeliveryAlert answering ``alert_id`` (the command body of REST's and GraphQL's)."""
    return {"id": alert_id, **query.model_dump()}
