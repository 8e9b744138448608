"""Room names and kinds.

Room names are rmf-web's, so its dashboard and api-client work unchanged; a
REST GET of a resource and the room of that resource share one path. fleethub
adds rooms of its own (``/events``) where rmf-web has none.

A *state* room has a latest (sticky) value: a new subscriber gets it at once,
and a slow client may skip intermediate values but never receives an older
value after a newer one. A *log* room is append-only: nothing may be skipped,
and a client that fell behind the replay window must resync.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from fleetcore.errors import UnknownRoom

MAX_ROOM_LENGTH = 512
"""The longest room name, in bytes: room names are ASCII once their parameters are
percent-encoded, and the sticky store's ``room`` column is this wide."""


class RoomKind(enum.Enum):
    STATE = "state"
    LOG = "log"


@dataclass(frozen=True, slots=True)
class RoomTemplate:
    """One family of rooms, e.g. ``/fleets/{name}/state``."""

    pattern: str
    kind: RoomKind
    resource: str
    description: str
    retires: bool = False
    """Whether a room of this family leaves the live bus once quiet (``Settings.retire_after_s``):
    families that grow with the site's history (tasks, commands), not with the site. A retired
    state room's last value is read from the database instead."""

    @property
    def regex(self) -> re.Pattern[str]:
        return _compiled(self.pattern)

    def format(self, **params: str) -> str:
        return self.pattern.format(**{k: quote(v, safe="") for k, v in params.items()})

    @property
    def max_param_bytes(self) -> int:
        """How long this template's one parameter may be, percent-encoded, for the room to fit."""
        return MAX_ROOM_LENGTH - len(_PARAM.sub("", self.pattern))

    def param_problem(self, value: str) -> str | None:
        """Why ``value`` cannot name a room of this template, or None when it can."""
        try:
            size = len(quote(value, safe=""))
        except UnicodeEncodeError:
            return "not valid Unicode (a lone surrogate)"
        if size > self.max_param_bytes:
            return (
                f"{size} bytes percent-encoded, over the {self.max_param_bytes}-byte limit "
                f"of its room {self.pattern}"
            )
        return None


@dataclass(frozen=True, slots=True)
class RoomMatch:
    room: str
    template: RoomTemplate
    params: dict[str, str]

    @property
    def kind(self) -> RoomKind:
        return self.template.kind


BUILDING_MAP = RoomTemplate("/building_map", RoomKind.STATE, "building_map", "The building map.")
DOOR_STATE = RoomTemplate("/doors/{name}/state", RoomKind.STATE, "door", "A door's state.")
LIFT_STATE = RoomTemplate("/lifts/{name}/state", RoomKind.STATE, "lift", "A lift's state.")
DISPENSER_STATE = RoomTemplate(
    "/dispensers/{guid}/state", RoomKind.STATE, "dispenser", "A dispenser's state."
)
INGESTOR_STATE = RoomTemplate(
    "/ingestors/{guid}/state", RoomKind.STATE, "ingestor", "An ingestor's state."
)
FLEET_STATE = RoomTemplate(
    "/fleets/{name}/state", RoomKind.STATE, "fleet", "A fleet's state with all its robots."
)
FLEET_LOG = RoomTemplate(
    "/fleets/{name}/log", RoomKind.LOG, "fleet", "New entries of a fleet's log."
)
TASK_STATE = RoomTemplate(
    "/tasks/{task_id}/state", RoomKind.STATE, "task", "A task's state.", retires=True
)
TASK_LOG = RoomTemplate(
    "/tasks/{task_id}/log", RoomKind.LOG, "task", "New entries of a task's log.", retires=True
)
ALERT_REQUESTS = RoomTemplate("/alerts/requests", RoomKind.LOG, "alert", "Every new alert request.")
ALERT_RESPONSES = RoomTemplate(
    "/alerts/responses", RoomKind.LOG, "alert", "Every response to an alert."
)
BEACONS = RoomTemplate("/beacons", RoomKind.LOG, "beacon", "Every beacon state update.")
BEACON_STATE = RoomTemplate("/beacons/{id}", RoomKind.STATE, "beacon", "A beacon's latest state.")
EVENTS = RoomTemplate("/events", RoomKind.LOG, "event", "Events derived by the hub.")
FIRE_ALARM_TRIGGER = RoomTemplate(
    "/building_map/fire_alarm_trigger",
    RoomKind.STATE,
    "fire_alarm",
    "Whether RMF's fire alarm is triggered, and since when.",
)
DELIVERY_ALERTS = RoomTemplate(
    "/delivery_alerts",
    RoomKind.LOG,
    "delivery_alert",
    "Every delivery alert RMF raises, and every response to one (rmf-web's deprecated alerts).",
)
RIOS = RoomTemplate("/rios", RoomKind.LOG, "rio", "Every new or changed RIO.")
MEDIA = RoomTemplate(
    "/media",
    RoomKind.LOG,
    "media",
    "Every new photo or clip: what it is attached to (alert, robot, task, event) and its robot.",
)
ALERT_MEDIA = RoomTemplate(
    "/alerts/media", RoomKind.LOG, "media", "Every new photo or clip attached to an alert."
)
FLEET_MEDIA = RoomTemplate(
    "/fleets/{name}/media",
    RoomKind.LOG,
    "media",
    "Every new photo or clip attached to one of the fleet's robots.",
)
TASK_MEDIA = RoomTemplate(
    "/tasks/{task_id}/media",
    RoomKind.LOG,
    "media",
    "Every new photo or clip attached to the task.",
    retires=True,
)
EVENT_MEDIA = RoomTemplate(
    "/events/media", RoomKind.LOG, "media", "Every new photo or clip attached to a derived event."
)
COMMAND = RoomTemplate(
    "/commands/{key}",
    RoomKind.STATE,
    "command",
    "A command's outcome (done, failed or unknown) once the hub knows it, for whoever sent it.",
    retires=True,
)

TEMPLATES: tuple[RoomTemplate, ...] = (
    BUILDING_MAP,
    DOOR_STATE,
    LIFT_STATE,
    DISPENSER_STATE,
    INGESTOR_STATE,
    FLEET_STATE,
    FLEET_LOG,
    TASK_STATE,
    TASK_LOG,
    ALERT_REQUESTS,
    ALERT_RESPONSES,
    BEACONS,
    BEACON_STATE,
    EVENTS,
    FIRE_ALARM_TRIGGER,
    DELIVERY_ALERTS,
    RIOS,
    MEDIA,
    ALERT_MEDIA,
    FLEET_MEDIA,
    TASK_MEDIA,
    EVENT_MEDIA,
    COMMAND,
)

_regex_cache: dict[str, re.Pattern[str]] = {}
_PARAM = re.compile(r"\{\w+\}")


def _compiled(pattern: str) -> re.Pattern[str]:
    regex = _regex_cache.get(pattern)
    if regex is None:
        body = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        regex = re.compile(f"^{body}$")
        _regex_cache[pattern] = regex
    return regex


def match_room(room: object) -> RoomMatch:
    """Resolve a client-supplied room name, or raise :class:`UnknownRoom`.

    Parameters are percent-decoded, as rmf-web does, so ``/tasks/a%2Fb/state``
    names task ``a/b``; the room is then named in its canonical (percent-encoded)
    form, which must fit :data:`MAX_ROOM_LENGTH` bytes.
    """
    if not isinstance(room, str) or not room:
        raise UnknownRoom("room must be a non-empty string")
    if len(room) > MAX_ROOM_LENGTH:
        raise UnknownRoom(f"room name longer than {MAX_ROOM_LENGTH} characters")
    for template in TEMPLATES:
        found = template.regex.match(room)
        if found:
            params = {k: unquote(v) for k, v in found.groupdict().items()}
            if any(not v for v in params.values()):
                break
            try:
                canonical = template.format(**params)
            except UnicodeEncodeError:
                raise UnknownRoom("room name is not valid Unicode (a lone surrogate)") from None
            if len(canonical) > MAX_ROOM_LENGTH:
                raise UnknownRoom(
                    f"room name longer than {MAX_ROOM_LENGTH} bytes once percent-encoded"
                )
            return RoomMatch(room=canonical, template=template, params=params)
    raise UnknownRoom(f"no room matches {room!r}")
