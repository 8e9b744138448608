"""Shared bounds for the RMF models.

A field whose value becomes a room name or a database column is bounded in
the units of that room or column (:mod:`fleetcore.contract.limits`,
:mod:`fleetcore.contract.rooms`), so a message that passes validation can
always be stored and published.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from fleetcore.contract.limits import NAME_BYTES, column_problem
from fleetcore.contract.rooms import RoomTemplate


def checked(problem: Callable[[str], str | None]) -> AfterValidator:
    """Validates a string by ``problem``, which says why a value is refused (None: accepted)."""

    def check(value: str) -> str:
        found = problem(value)
        if found is not None:
            raise PydanticCustomError("stored_value", found)
        return value

    return AfterValidator(check)


def column(max_bytes: int | None) -> AfterValidator:
    """Validates a value stored in a column ``max_bytes`` wide (None: of unbounded text).

    Robot names, task ids and map names are checked for every robot of every
    fleet state (four a robot): an ASCII value that fits is passed in one call,
    without the calls that say why another is refused.
    """
    limit = float("inf") if max_bytes is None else max_bytes

    def check(value: str) -> str:
        if value.isascii() and len(value) <= limit and "\x00" not in value:
            return value
        found = column_problem(value, max_bytes)
        if found is not None:
            raise PydanticCustomError("stored_value", found)
        return value

    return AfterValidator(check)


def name_problem(value: str, *templates: RoomTemplate) -> str | None:
    """Why ``value`` cannot be a name stored in its columns and naming a room of each of
    ``templates``, or None."""
    found = column_problem(value, NAME_BYTES)
    for template in templates:
        found = found or template.param_problem(value)
    return found


def room_name(*templates: RoomTemplate) -> AfterValidator:
    """Validates a name that is a column value and names a room of each of ``templates``."""
    return checked(lambda value: name_problem(value, *templates))


NonEmpty = StringConstraints(min_length=1)

Name = Annotated[str, NonEmpty, column(NAME_BYTES)]
"""An identifier: a fleet, robot, door, task... never empty; its columns are ``NAME_BYTES`` wide."""

OptionalName = Annotated[str, column(NAME_BYTES)]
"""An identifier RMF may leave empty (a robot's ``task_id`` when it has none)."""

Text = Annotated[str, StringConstraints(max_length=65_536), column(None)]
"""Free text such as a log line."""

SHORT_TEXT_CHARS = 1024
ShortText = Annotated[str, StringConstraints(max_length=SHORT_TEXT_CHARS)]
"""Text that is published but never a column by itself (a title, a floor, a parameter)."""

MillisTime = Annotated[int, Field(ge=0, le=2**63 - 1)]

Detail = dict[str, Any] | list[Any] | str
"""RMF's ``detail``: an object, an array or a string."""

MAX_ITEMS = 10_000
"""Upper bound on any list or dict in a message; frames are size-capped too."""


class RmfModel(BaseModel):
    """Base of every RMF model: finite numbers only, unknown fields kept."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, populate_by_name=True)


class RosTime(RmfModel):
    """builtin_interfaces/Time."""

    sec: int = 0
    nanosec: Annotated[int, Field(ge=0, lt=1_000_000_000)] = 0
