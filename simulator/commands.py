"""Commands the hub sends the simulator, acted on as RMF would, answered with RMF's responses.

The hub sends ``{"type": "command", "data": {request_id, kind, body}}`` on the
ingest websocket; the answer is a ``command_response`` frame with the same
request_id and RMF's response JSON (``dispatch_task_response`` and friends).
A request_id seen before is answered again from memory and not acted on:
RMF itself would act twice, but the hub never sends a key twice, so a second
request here would be a bug the tests should see (``requests`` counts them).

With ``shared`` (another site serves fleets through the same hub, as the
VDA 5050 master control does in ``fleethub up``), a command for a fleet or
task this simulation does not have gets no answer, so that site's answer is
the one the hub takes: the hub hands every command to every site and keeps
the first answer.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from typing import Any

import orjson

from fleetcore.contract.commands import COMMAND_FRAME, SITE_KINDS, CommandKind, commission_done
from fleetcore.contract.ingest import IngestType, encode
from fleetcore.contract.site_link import Serves
from fleetcore.log import sim_logger
from simulator.simulation import Simulation
from simulator.tasks import DESCRIPTION_SCHEMAS, CommandRejected


class SimCommands:
    """Performs commands on a :class:`Simulation`; ``answer`` sends a response frame."""

    def __init__(
        self,
        simulation: Simulation,
        answer: Callable[[bytes], None],
        *,
        remembered: int = 10_000,
        shared: bool = False,
    ) -> None:
        self.simulation = simulation
        self._shared = shared
        self._answer = answer
        self._answers: OrderedDict[str, bytes] = OrderedDict()
        self._remembered = remembered
        self.requests: Counter[str] = Counter()
        """How often each request_id arrived: RMF's log of requests (one per key, if all is well)."""
        self.arrived: dict[str, float] = {}
        """When each request_id first arrived (``time.monotonic``): the dispatch latency's end."""

    def on_message(self, doc: dict[str, Any]) -> None:
        """The :class:`~fleetcore.site_client.SiteClient` hook: frames the hub sent us."""
        if doc.get("type") != COMMAND_FRAME or not isinstance(doc.get("data"), dict):
            sim_logger.info("hub sent %.200s", orjson.dumps(doc).decode())
            return
        data = doc["data"]
        request_id = str(data.get("request_id", ""))
        self.requests[request_id] += 1
        frame = self._answers.get(request_id)
        if frame is None and self._shared and not self._ours(data.get("body")):
            return
        if frame is None:
            self.arrived[request_id] = time.monotonic()
            frame = self._perform(request_id, str(data.get("kind")), data.get("body"))
            self._answers[request_id] = frame
            while len(self._answers) > self._remembered:
                forgotten, _ = self._answers.popitem(last=False)
                del self.requests[forgotten], self.arrived[forgotten]
        self._answer(frame)

    def _ours(self, body: Any) -> bool:
        """Whether a command is about this simulation's fleets or tasks (or names neither)."""
        if not isinstance(body, dict):
            return True
        request = body.get("request")
        fleet = body.get("fleet") or (
            request.get("fleet_name") if isinstance(request, dict) else None
        )
        if fleet and fleet not in self.simulation.fleets:
            return False
        task_id = body.get("task_id") or body.get("for_task")
        return not task_id or task_id in self.simulation.tasks

    def serves(self) -> Serves:
        """What the simulator tells the hub it performs: every command, for its fleets, doors
        and lifts; it picks the fleet of a dispatch that names none."""
        sim = self.simulation
        return Serves(
            commands=tuple(sorted(SITE_KINDS)),
            dispatcher=True,
            fleets=tuple(sim.fleets),
            doors=tuple(sim.doors),
            lifts=tuple(sim.lifts),
        )

    def _perform(self, request_id: str, kind: str, body: Any) -> bytes:
        try:
            if not isinstance(body, dict):
                raise CommandRejected("the command body must be an object")
            response = self._act(kind, body)
        except CommandRejected as exc:
            response = _refused(kind, str(exc))
        except Exception as exc:
            # A bug here must not leave the command unanswered (pending for ever) nor end the link.
            sim_logger.exception("the simulator failed command %s (%s)", request_id, kind)
            response = _refused(kind, f"the simulator failed: {exc!r}")
        data = {"request_id": request_id, **response}
        return orjson.dumps({"type": IngestType.COMMAND_RESPONSE.value, "data": data})

    def _act(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        sim = self.simulation
        try:
            command = CommandKind(kind)
        except ValueError:
            raise CommandRejected(f"unknown command {kind!r}") from None
        if command is CommandKind.DISPATCH_TASK:
            return {"success": True, "state": sim.dispatch(body)}
        if command is CommandKind.ROBOT_TASK:
            request = {**body.get("request", {}), "fleet_name": body.get("fleet")}
            return {"success": True, "state": sim.dispatch(request, robot=str(body.get("robot")))}
        if command is CommandKind.CANCEL_TASK:
            sim.cancel(str(body.get("task_id")), body.get("labels", ()))
            return {"success": True}
        if command is CommandKind.KILL_TASK:
            sim.kill(str(body.get("task_id")), body.get("labels", ()))
            return {"success": True}
        if command is CommandKind.DOOR_REQUEST:
            sim.request_door(str(body.get("door_name")), int(body.get("mode", 0)))
            return {"success": True}
        if command is CommandKind.LIFT_REQUEST:
            sim.request_lift(
                str(body.get("lift_name")),
                str(body.get("destination")),
                int(body.get("request_type", 1)),
            )
            return {"success": True}
        if command is CommandKind.RESET_FIRE_ALARM_TRIGGER:
            # RMF's fire alarm topic echoes the reset, as the bridge relays it.
            self._answer(encode(IngestType.FIRE_ALARM_TRIGGER, {"trigger": False}))
            return {"success": True}
        if command in (CommandKind.UNLOCK_MUTEX_GROUP, CommandKind.DELIVERY_ALERT_RESPONSE):
            # Published on RMF's topics, which nothing answers: done once "published".
            return {"success": True}
        return self._steer(command, body)

    def _steer(self, command: CommandKind, body: dict[str, Any]) -> dict[str, Any]:
        """Commands on tasks and robots already in the simulation."""
        sim = self.simulation
        labels = body.get("labels", ())
        if command is CommandKind.INTERRUPT_TASK:
            return {"success": True, "token": sim.interrupt(str(body.get("task_id")), labels)}
        if command is CommandKind.RESUME_TASK:
            sim.resume(str(body.get("for_task")), body.get("for_tokens", ()), labels)
            return {"success": True}
        if command is CommandKind.REWIND_TASK:
            sim.rewind(str(body.get("task_id")), int(body.get("phase_id", -1)))
            return {"success": True}
        if command is CommandKind.SKIP_PHASE:
            token = sim.skip_phase(str(body.get("task_id")), int(body.get("phase_id", -1)), labels)
            return {"success": True, "token": token}
        if command is CommandKind.UNDO_SKIP_PHASE:
            sim.undo_skip_phase(str(body.get("for_task")), body.get("for_tokens", ()), labels)
            return {"success": True}
        if command is CommandKind.TASK_DISCOVERY:
            return {"success": True, **_discovery(next(iter(sim.fleets)))}
        if command is CommandKind.ROBOT_COMMISSION:
            return _commission(sim, body)
        raise CommandRejected(f"the simulator does not take {command.value} commands")


def _refused(kind: str, detail: str) -> dict[str, Any]:
    return {"success": False, "errors": [{"code": 1, "category": kind, "detail": detail}]}


def _discovery(fleet: str) -> dict[str, Any]:
    """rmf_api_msgs ``task_discovery_response`` of the simulated fleets."""
    tasks = [
        {"category": category, "detail": detail, "description_schema": schema}
        for category, (detail, schema) in DESCRIPTION_SCHEMAS.items()
    ]
    return {"type": "task_discovery_update", "data": {"fleet_name": fleet, "tasks": tasks}}


def _commission(sim: Simulation, body: dict[str, Any]) -> dict[str, Any]:
    """rmf_api_msgs ``robot_commission_response``, plus ``success`` for the hub to read."""
    commission = body.get("commission")
    if not isinstance(commission, dict):
        raise CommandRejected("commission must be an object")
    policy = str(body.get("pending_dispatch_tasks_policy", "complete"))
    sim.commission(
        str(body.get("fleet")),
        str(body.get("robot")),
        bool(commission.get("dispatch_tasks", True)),
        unstarted=policy,
    )
    return commission_done()
