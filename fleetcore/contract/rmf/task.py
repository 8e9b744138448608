"""Task state and task log (rmf_api_msgs task_state, task_log).

Phases and events are kept loosely typed: the dashboard renders them and the
hub only reads the booking, status, assignment and times.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from fleetcore.contract.rmf._base import (
    MAX_ITEMS,
    Detail,
    MillisTime,
    Name,
    RmfModel,
    ShortText,
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
Labels = Annotated[list[ShortText], Field(max_length=1000)]


class Booking(RmfModel):
    id: Name
    unix_millis_earliest_start_time: MillisTime | None = None
    unix_millis_request_time: MillisTime | None = None
    priority: dict[str, Any] | str | None = None
    labels: Labels | None = None
    requester: ShortText | None = None


class AssignedTo(RmfModel):
    group: Annotated[str, Field(max_length=256)]
    name: Annotated[str, Field(max_length=256)]


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
    category: ShortText | None = None
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
    events: Annotated[dict[str, LogEntries], Field(max_length=MAX_ITEMS)] | None = None


class TaskLog(RmfModel):
    task_id: Name
    log: LogEntries | None = None
    phases: Annotated[dict[str, PhaseLog], Field(max_length=MAX_ITEMS)] | None = None
