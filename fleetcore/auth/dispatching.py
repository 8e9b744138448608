"""Who may dispatch a task to a fleet: asked when a user sends the task, and again at every run.

RMF picks the robot of a dispatched task, so the user needs ``task_submit``
on the whole fleet the request names (a request naming none is for admins).
rest_api asks when a dispatch or a scheduled task is submitted; the hub asks
again each time it fires a scheduled occurrence, as its owner's grants are
then (a revoked grant or a deleted user stops the schedule, not only future
submissions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fleetcore.auth.permissions import Permission, Principal


def dispatch_fleet(request: Mapping[str, Any]) -> str | None:
    """The fleet an RMF dispatch request (``fleet_name``) names, if any."""
    fleet = request.get("fleet_name")
    return fleet if isinstance(fleet, str) and fleet else None


def may_dispatch(principal: Principal, request: Mapping[str, Any]) -> bool:
    """Whether ``principal`` may dispatch ``request`` (RMF's task request JSON)."""
    fleet = dispatch_fleet(request)
    if fleet is None:
        return principal.is_admin
    return principal.can_fleet(Permission.task_submit, fleet)


__all__ = ["dispatch_fleet", "may_dispatch"]
