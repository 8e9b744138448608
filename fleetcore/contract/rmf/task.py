"""Task state and task log (rmf_api_msgs task_state, task_log).

Phases and events are kept loosely typed: the dashboard renders them and the
hub only reads the booking, status, assignment and times.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from fleetcore.contract import rooms
from fleetcore.contract.limits import (
    LABEL_NAME_BYTES,
    LOG_SCOPE_BYTES,
    NAME_BYTES,
    TEXT_BYTES,
    column_problem,
)
from fleetcore.contract.rmf._base import (
    MAX_ITEMS,
    Detail,
    MillisTime,
    NonEmpty,
    OptionalName,
    RmfModel,
    ShortText,
    checked,
    column,
    name_problem,
)
from fleetcore.contract.rmf.fleet import LogEntries

TaskStatus = Literal[
    "uninitialized",
    "blocked",
    "error",
    "failed",
    "queued",
    "standby",
    "underway",
    "delayed",
    "skipped",
    "canceled",
    "killed",
    "completed",
]
TERMINAL_STATUSES: frozenset[str] = frozenset(
    {"completed", "failed", "canceled", "killed", "skipped"}
)


def split_label(label: str) -> tuple[str, str]:
    """rmf-web's label convention: ``key=value``, or ``key`` meaning an empty value."""
    name, _, value = label.partition("=")
    return name, value


def _label_problem(label: str) -> str | None:
    """Why a booking label cannot be stored as its (name, value) columns, or None."""
    name, value = split_label(label)
    problem = column_problem(name, LABEL_NAME_BYTES)
    if problem is not None:
        return f"its name: {problem}"
    problem = column_problem(value, TEXT_BYTES)
    return None if problem is None else f"its value: {problem}"


Labels = Annotated[list[Annotated[str, checked(_label_problem)]], Field(max_length=1000)]


def task_id_problem(task_id: str) -> str | None:
    """Why ``task_id`` cannot be a task's id (it names its rooms and its rows), or None."""
    return name_problem(task_id, rooms.TASK_STATE, rooms.TASK_LOG)


TaskId = Annotated[str, NonEmpty, checked(task_id_problem)]
LogScope = Annotated[str, column(LOG_SCOPE_BYTES)]
"""The phase or event id a log entry is stored under."""


class Booking(RmfModel):
    id: TaskId
    unix_millis_earliest_start_time: MillisTime | None = None
    unix_millis_request_time: MillisTime | None = None
    priority: dict[str, Any] | str | None = None
    labels: Labels | None = None
    requester: Annotated[str, column(TEXT_BYTES)] | None = None


class AssignedTo(RmfModel):
    group: OptionalName
    name: OptionalName


class Assignment(RmfModel):
    fleet_name: ShortText | None = None
    expected_robot_name: ShortText | None = None


class Dispatch(RmfModel):
    status: Literal["queued", "selected", "dispatched", "failed_to_assign", "canceled_in_flight"]
    assignment: Assignment | None = None
    errors: Annotated[list[dict[str, Any]], Field(max_length=MAX_ITEMS)] | None = None


class RequestInfo(RmfModel):
    unix_millis_request_time: MillisTime
    labels: Labels


class Phase(RmfModel):
    id: Annotated[int, Field(ge=0)]
    category: ShortText | None = None
    detail: Detail | None = None
    unix_millis_start_time: MillisTime | None = None
    unix_millis_finish_time: MillisTime | None = None
    original_estimate_millis: Annotated[int, Field(ge=0)] | None = None
    estimate_millis: Annotated[int, Field(ge=0)] | None = None
    final_event_id: Annotated[int, Field(ge=0)] | None = None
    events: Annotated[dict[str, dict[str, Any]], Field(max_length=MAX_ITEMS)] | None = None
    skip_requests: Annotated[dict[str, dict[str, Any]], Field(max_length=MAX_ITEMS)] | None = None


class TaskState(RmfModel):
    booking: Booking
    category: Annotated[str, column(NAME_BYTES)] | None = None
    detail: Detail | None = None
    unix_millis_start_time: MillisTime | None = None
    unix_millis_finish_time: MillisTime | None = None
    original_estimate_millis: Annotated[int, Field(ge=0)] | None = None
    estimate_millis: Annotated[int, Field(ge=0)] | None = None
    assigned_to: AssignedTo | None = None
    status: TaskStatus | None = None
    dispatch: Dispatch | None = None
    phases: Annotated[dict[str, Phase], Field(max_length=MAX_ITEMS)] | None = None
    completed: Annotated[list[int], Field(max_length=MAX_ITEMS)] | None = None
    active: Annotated[int, Field(ge=0)] | None = None
    pending: Annotated[list[int], Field(max_length=MAX_ITEMS)] | None = None
    interruptions: Annotated[dict[str, dict[str, Any]], Field(max_length=MAX_ITEMS)] | None = None
    cancellation: RequestInfo | None = None
    killed: RequestInfo | None = None


class PhaseLog(RmfModel):
    log: LogEntries | None = None
    events: Annotated[dict[LogScope, LogEntries], Field(max_length=MAX_ITEMS)] | None = None


class TaskLog(RmfModel):
    task_id: TaskId
    log: LogEntries | None = None
    phases: Annotated[dict[LogScope, PhaseLog], Field(max_length=MAX_ITEMS)] | None = None
