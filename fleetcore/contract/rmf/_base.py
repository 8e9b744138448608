"""Shared bounds for the RMF models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
"""An identifier: a fleet, robot, door, task... never empty."""

Text = Annotated[str, StringConstraints(max_length=65_536)]
"""Free text such as a log line."""

ShortText = Annotated[str, StringConstraints(max_length=1024)]

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
