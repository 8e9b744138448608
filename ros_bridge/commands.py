"""The hub's commands, performed on RMF over ROS 2, answered as RMF answers them.

The hub sends a site ``{"type": "command", "data": {request_id, kind, body}}``
(:func:`fleetcore.contract.commands.command_frame`); the simulator and the
bridge answer with a ``command_response`` frame carrying the same request_id,
so the REST call that caused the command completes with RMF's JSON.

- Task API kinds (dispatch, robot task, cancel, kill, interrupt, resume,
  rewind, skip, undo skip, discovery, robot commission): ``body`` already is
  the rmf_api_msgs request JSON, so it goes out unchanged as
  ``ApiRequest{request_id, json_msg}`` on task_api_requests. The answer is
  RMF's ApiResponse on task_api_responses, turned into the command_response
  by :func:`ros_bridge.convert.command_response` once the bridge's
  :class:`~ros_bridge.responses.ResponseTracker` admits it.
- Door and lift requests, fire alarm resets, mutex group releases and
  delivery alert responses: nothing in RMF answers them, so the command
  succeeds once it is published (the state that follows is the real
  outcome, as in rmf-web).
- Anything else is answered ``success: false`` at once, naming the kind, so
  the hub never waits for an answer that cannot come.

An ``alert_response`` frame (an operator answered an alert) is published on
RMF's alert_response topic and needs no answer; with Jazzy's interfaces,
which have no alerts, it is counted and logged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from fleetcore.contract.commands import (
    ALERT_RESPONSE_FRAME,
    COMMAND_FRAME,
    SITE_KINDS,
    TASK_API_KINDS,
    CommandKind,
)
from fleetcore.contract.ingest import IngestType
from fleetcore.contract.site_link import Serves
from fleetcore.log import bridge_logger

if TYPE_CHECKING:
    from ros_bridge.bridge import RosBridge

Answer = Callable[[dict[str, Any]], Awaitable[None]]
"""Where a ``command_response`` message goes: the bridge's sink."""

SERVES = Serves(commands=tuple(sorted(SITE_KINDS)), dispatcher=True, alert_responses=True)
"""What the bridge tells the hub it performs: every command, for whatever RMF behind it has
(RMF's dispatcher picks fleets; its door and lift supervisors take any name), and operators'
answers to alerts. The hub learns the fleets, doors and lifts from what the bridge reports."""


class CommandRefused(Exception):
    """The command cannot be performed as sent; the hub is told why."""


@dataclass(slots=True)
class CommandStats:
    task_requests: int = 0
    door_requests: int = 0
    lift_requests: int = 0
    site_requests: int = 0
    """Fire alarm resets, mutex group releases and delivery alert responses published."""
    refused: int = 0
    repeated: int = 0
    """Task requests whose request_id was already published: not published twice."""
    alert_responses: int = 0
    alert_responses_unsupported: int = 0
    """Alert responses this distro's interfaces cannot publish (Jazzy has no alerts)."""


class BridgeCommands:
    """Performs command frames on a started :class:`~ros_bridge.bridge.RosBridge`."""

    def __init__(self, bridge: RosBridge, answer: Answer) -> None:
        self._bridge = bridge
        self._answer = answer
        self.stats = CommandStats()

    async def on_frame(self, doc: dict[str, Any]) -> None:
        """A frame the hub sent; anything but a well-formed command is logged and ignored."""
        data = doc.get("data")
        if doc.get("type") == ALERT_RESPONSE_FRAME and isinstance(data, dict):
            self._alert_response(str(data.get("id", "")), str(data.get("response", "")))
            return
        if doc.get("type") != COMMAND_FRAME or not isinstance(data, dict):
            bridge_logger.info("hub sent %.200s", orjson.dumps(doc).decode())
            return
        request_id = str(data.get("request_id", ""))
        kind = str(data.get("kind", ""))
        try:
            answered = self._perform(request_id, kind, data.get("body"))
        except CommandRefused as exc:
            self.stats.refused += 1
            bridge_logger.warning("refused command %s (%s): %s", request_id, kind, exc)
            error = {"code": 1, "category": kind, "detail": str(exc)}
            await self._respond(request_id, {"success": False, "errors": [error]})
            return
        if answered:
            await self._respond(request_id, {"success": True})

    def _perform(self, request_id: str, kind: str, body: Any) -> bool:
        """Publish the command; True when it is complete once published (no RMF answer)."""
        if not request_id:
            raise CommandRefused("the command has no request_id")
        if not isinstance(body, dict):
            raise CommandRefused("the command body must be an object")
        try:
            command = CommandKind(kind)
        except ValueError:
            raise CommandRefused(f"the bridge does not take {kind!r} commands") from None
        bridge = self._bridge
        if command in TASK_API_KINDS:
            if bridge.responses.knows(request_id):
                self.stats.repeated += 1
                return False
            bridge.publish_task_request(request_id, orjson.dumps(body).decode())
            self.stats.task_requests += 1
            return False
        try:
            if command is CommandKind.DOOR_REQUEST:
                bridge.publish_door_request(
                    str(body["door_name"]), int(body["mode"]), bridge.node.get_name()
                )
                self.stats.door_requests += 1
            elif command is CommandKind.RESET_FIRE_ALARM_TRIGGER:
                bridge.publish_fire_alarm_reset()
                self.stats.site_requests += 1
            elif command is CommandKind.UNLOCK_MUTEX_GROUP:
                bridge.publish_mutex_group_release(
                    str(body["fleet"]), str(body["robot"]), str(body["mutex_group"])
                )
                self.stats.site_requests += 1
            elif command is CommandKind.DELIVERY_ALERT_RESPONSE:
                bridge.publish_delivery_alert_response(body)
                self.stats.site_requests += 1
            elif command is CommandKind.LIFT_REQUEST:
                bridge.publish_lift_request(
                    str(body["lift_name"]),
                    str(body["destination"]),
                    int(body["request_type"]),
                    int(body["door_mode"]),
                    bridge.node.get_name(),
                )
                self.stats.lift_requests += 1
            else:
                raise CommandRefused(f"the bridge does not take {kind!r} commands")
        except (KeyError, TypeError, ValueError) as exc:
            raise CommandRefused(f"{command.value} body: {exc!r}") from None
        return True

    def _alert_response(self, alert_id: str, response: str) -> None:
        try:
            self._bridge.publish_alert_response(alert_id, response)
        except RuntimeError as exc:
            self.stats.alert_responses_unsupported += 1
            bridge_logger.warning("cannot tell RMF the response to alert %s: %s", alert_id, exc)
            return
        self.stats.alert_responses += 1

    async def _respond(self, request_id: str, response: dict[str, Any]) -> None:
        data = {"request_id": request_id, **response}
        await self._answer({"type": IngestType.COMMAND_RESPONSE.value, "data": data})
