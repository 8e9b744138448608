"""Bodies of the command requests, after rmf_api_msgs' schemas (and rmf-web's door and lift bodies).

Strict: a wrong JSON type is a 422 naming the field, never coerced. Fields
the schemas leave open (a task's ``description``, ``priority``) are passed
to RMF as given; the fleet that bids on the task validates them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _no_bool(value: object) -> object:
    """``true``/``false`` are not the numbers 1/0, though Python compares them equal."""
    if isinstance(value, bool):
        raise ValueError("a number is expected, not a boolean")
    return value


def _not_null(value: object) -> object:
    """A required free-form value: ``null`` would be dropped when stored, so it is no value."""
    if value is None:
        raise ValueError("a value is required (it may be {}), not null")
    return value


DoorMode = Annotated[Literal[0, 2], BeforeValidator(_no_bool)]
"""rmf_door_msgs' modes: 0 closed, 2 open."""


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True)


class TaskRequest(_Strict):
    """rmf_api_msgs ``task_request``."""

    model_config = ConfigDict(strict=True, extra="allow")

    unix_millis_earliest_start_time: int | None = None
    unix_millis_request_time: int | None = None
    priority: dict[str, Any] | None = None
    category: str = Field(min_length=1)
    description: Annotated[Any, BeforeValidator(_not_null)] = Field(
        description="Matches the schema a fleet supports for the category; required (may be {}).",
        json_schema_extra={"not": {"type": "null"}},
    )
    labels: list[str] | None = None
    requester: str | None = None
    fleet_name: str | None = None


class DispatchTaskRequest(_Strict):
    """rmf_api_msgs ``dispatch_task_request``: RMF picks the fleet and robot."""

    type: Literal["dispatch_task_request"]
    request: TaskRequest


class RobotTaskRequest(_Strict):
    """rmf_api_msgs ``robot_task_request``: a task for one named robot."""

    type: Literal["robot_task_request"]
    robot: str = Field(min_length=1)
    fleet: str = Field(min_length=1)
    request: TaskRequest


class CancelTaskRequest(_Strict):
    """rmf_api_msgs ``cancel_task_request``."""

    type: Literal["cancel_task_request"]
    task_id: str = Field(min_length=1)
    labels: list[str] | None = None


class TaskKillRequest(_Strict):
    """rmf_api_msgs ``kill_task_request``: a last resort when cancelling is not enough."""

    type: Literal["kill_task_request"]
    task_id: str = Field(min_length=1)
    labels: list[str] | None = None


class DoorRequest(_Strict):
    """rmf-web's door request: the mode to put the door in (0 closed, 2 open)."""

    mode: DoorMode


class LiftRequest(_Strict):
    """rmf-web's lift request (RMF ``LiftRequest``'s request_type, door_mode, destination)."""

    request_type: Annotated[Literal[0, 1, 2], BeforeValidator(_no_bool)]
    """rmf_lift_msgs' numbers: 0 end session, 1 AGV mode, 2 human mode."""
    door_mode: DoorMode
    destination: str = Field(min_length=1)


class TaskInterruptionRequest(_Strict):
    """rmf_api_msgs ``interrupt_task_request``: pause a task; RMF answers a resume token."""

    type: Literal["interrupt_task_request"]
    task_id: str = Field(min_length=1)
    labels: list[str] | None = None


class TaskResumeRequest(_Strict):
    """rmf_api_msgs ``resume_task_request``: release the interruptions of the given tokens."""

    type: Literal["resume_task_request"]
    for_task: str = Field(min_length=1)
    for_tokens: list[str] = Field(min_length=1)
    labels: list[str] | None = None


class TaskRewindRequest(_Strict):
    """rmf_api_msgs ``rewind_task_request``: run a task again from an earlier phase."""

    type: Literal["rewind_task_request"]
    task_id: str = Field(min_length=1)
    phase_id: int = Field(ge=0)


class TaskPhaseSkipRequest(_Strict):
    """rmf_api_msgs ``skip_phase_request``; RMF answers a token that can undo the skip."""

    type: Literal["skip_phase_request"]
    task_id: str = Field(min_length=1)
    phase_id: int = Field(ge=0)
    labels: list[str] | None = None


class UndoPhaseSkipRequest(_Strict):
    """rmf_api_msgs ``undo_skip_phase_request`` (its type is ``undo_phase_skip_request``)."""

    type: Literal["undo_phase_skip_request"]
    for_task: str = Field(min_length=1)
    for_tokens: list[str] = Field(min_length=1)
    labels: list[str] | None = None


class TaskDiscoveryRequest(_Strict):
    """rmf_api_msgs ``task_discovery_request``: which task categories the fleets take."""

    type: Literal["task_discovery_request"]


class RecommissionQuery(BaseModel):
    """rmf-web's recommission parameter (in the query string, as FastAPI reads it)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    robot_name: str = Field(min_length=1)


class DecommissionQuery(RecommissionQuery):
    """rmf-web's decommission parameters (in the query string)."""

    reassign_tasks: bool
    """Whether the robot's queued dispatch tasks go to other robots (else they are cancelled)."""
    allow_idle_behavior: bool
