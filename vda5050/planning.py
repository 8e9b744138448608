"""Queued tasks waiting for a busy vehicle, and whether a better one that frees up takes them.

A queued task whose cheapest vehicle is still busy waits for it (its cost
counts from the end of that vehicle's route, after its queue). Every time
tasks are assigned (a vehicle frees up, each tick) the choice is made again;
``replan`` decides what happens when another vehicle becomes cheaper before
the task started:

- on (the default): the cheaper one takes it. The waited-for vehicle's
  queue is an estimate that grows when it is held up (traffic, a slow
  action), so sticking to it wastes the vehicle that freed up;
- off: the task keeps the vehicle it waits for while that vehicle can still
  take it, so the promise an operator read in the task log holds.

Each change goes into the task's log: which vehicle it waits for and why,
and when it was re-planned, the new vehicle's cost against the old one's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vda5050.allocation import Quote


@dataclass(slots=True)
class Plans:
    replan: bool = True
    waiting: dict[str, Quote] = field(default_factory=dict)
    """The busy vehicle each queued task waits for, as quoted when it started waiting."""

    def keep(self, queued: set[str]) -> None:
        """Forget the tasks that are no longer queued (started, canceled)."""
        for task_id in self.waiting.keys() - queued:
            del self.waiting[task_id]

    def order(self, task_id: str, ranked: list[Quote]) -> list[Quote]:
        """``ranked``, with the vehicle the task waits for first when re-planning is off."""
        waited = self.waiting.get(task_id)
        if self.replan or waited is None:
            return ranked
        kept = [q for q in ranked if q.robot == waited.robot and not math.isinf(q.cost_s)]
        return kept + [q for q in ranked if q.robot != waited.robot] if kept else ranked

    def wait(self, task_id: str, busy: Quote) -> str | None:
        """The task waits for ``busy``: the log line when that is news, else None."""
        before = self.waiting.get(task_id)
        if before is not None and before.robot == busy.robot:
            return None
        self.waiting[task_id] = busy
        text = f"Waits for [robot:{busy.robot}], busy but cheapest: {busy.describe()}"
        if before is None:
            return text
        return f"Re-planned: {text}; was [robot:{before.robot}] ({before.cost_s:.0f} s)"

    def start(self, task_id: str, chosen: Quote) -> str:
        """The task starts with ``chosen``: a log line when it waited for another, else ''."""
        before = self.waiting.pop(task_id, None)
        if before is None or before.robot == chosen.robot:
            return ""
        return (
            f"Re-planned: [robot:{chosen.robot}] freed up and is now cheapest"
            f" ({chosen.cost_s:.0f} s); the task waited for [robot:{before.robot}]"
            f" ({before.cost_s:.0f} s when it began waiting)"
        )
