"""Which robot or task a publication concerns, for deciding who may receive it.

Each kind of publication is read as the visibility rules read it
(:mod:`fleetcore.auth.visibility`). A fleet state names its fleet in its
room, but a task's log entry, an alert or a derived event does not say
which robot it is about in a way that can be checked per publication
without context: a task log needs the task's
current assignment (from its latest state), an alert response needs the
alert it answers. The proxy learns both from the publications it relays
(:meth:`Concerns.observe`, before fan-out), and a task it has not seen yet
from the bus's sticky state when someone subscribes to it.

What it holds is bounded (least recently used out). An alert response to an
alert this proxy never relayed (it started later) reaches admins only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Generic, TypeVar
from urllib.parse import unquote

from fleetcore.auth.visibility import (
    NOTHING,
    Concern,
    TaskConcern,
    alert_concern,
    event_concern,
    task_concern,
)
from fleetcore.contract import rooms
from fleetcore.contract.envelope import Publication

DEFAULT_CAPACITY = 100_000
"""Tasks and alerts remembered (each a few hundred bytes)."""

_TASKS_PREFIX = "/tasks/"
_STATE_SUFFIX = "/state"


def task_id_of(room: str) -> str | None:
    """The task of a ``/tasks/{id}/state`` room."""
    if room.startswith(_TASKS_PREFIX) and room.endswith(_STATE_SUFFIX):
        return unquote(room[len(_TASKS_PREFIX) : -len(_STATE_SUFFIX)])
    return None


V = TypeVar("V")


class _Recent(Generic[V]):
    """At most ``capacity`` entries; the least recently written goes first."""

    def __init__(self, capacity: int) -> None:
        self._entries: OrderedDict[str, V] = OrderedDict()
        self._capacity = capacity

    def put(self, key: str, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def get(self, key: str) -> V | None:
        return self._entries.get(key)


class Concerns:
    """Task assignments and alert subjects, learned from publications."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self._tasks: _Recent[TaskConcern] = _Recent(capacity)
        self._alerts: _Recent[Concern] = _Recent(capacity)
        self._memo: tuple[Publication | None, Concern] = (None, NOTHING)

    def observe(self, batch: Sequence[Publication]) -> None:
        """Learn from one published batch; call before it is fanned out."""
        for pub in batch:
            if pub.room == rooms.ALERT_REQUESTS.pattern:
                data = pub.data()
                if isinstance(data, dict) and isinstance(data.get("id"), str):
                    self._alerts.put(data["id"], alert_concern(data))
                continue
            task_id = task_id_of(pub.room)
            if task_id is not None:
                self.learn_task(task_id, pub)

    def learn_task(self, task_id: str, state: Publication) -> TaskConcern:
        concern = task_concern(state.data())
        self._tasks.put(task_id, concern)
        return concern

    def task(self, task_id: str) -> TaskConcern | None:
        return self._tasks.get(task_id)

    def of(self, pub: Publication) -> Concern:
        """What an alert request or response, a derived event or new media is about.

        Memoized for the last publication: every filtered view of one
        publication asks, and the JSON is parsed once.
        """
        last, concern = self._memo
        if last is pub:
            return concern
        data = pub.data()
        if pub.room == rooms.ALERT_RESPONSES.pattern:
            alert_id = data.get("id") if isinstance(data, dict) else None
            known = self._alerts.get(alert_id) if isinstance(alert_id, str) else None
            concern = known if known is not None else NOTHING
        elif pub.room == rooms.ALERT_REQUESTS.pattern:
            concern = alert_concern(data)
        else:
            concern = event_concern(data)
        self._memo = (pub, concern)
        return concern


__all__ = ["Concerns", "task_id_of"]
