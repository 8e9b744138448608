"""rmf_api_msgs task_state phases and task_log updates as a site renders them.

Shared by every site fleethub simulates or runs (the simulator, the VDA 5050
master control), so their tasks read alike in rooms and rmf-web's task views.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel


def sequence_status(statuses: Sequence[str]) -> str:
    """The status of a phase's sequence event, from its steps' statuses."""
    for terminal in ("failed", "killed", "canceled"):
        if terminal in statuses:
            return terminal
    if all(s in ("completed", "skipped") for s in statuses):
        return "skipped" if "skipped" in statuses else "completed"
    if any(s in ("underway", "completed") for s in statuses):
        return "underway"
    return "standby"


def phase_state(
    phase_id: int,
    category: str,
    detail: Any,
    steps: Sequence[tuple[str, str]],
    *,
    estimate_ms: int,
    original_estimate_ms: int | None,
    start_ms: int | None,
    finish_ms: int | None,
) -> dict[str, Any]:
    """One phase of a task_state; ``steps`` are ``(status, name)``, events 1..n under event 0."""
    events: dict[str, dict[str, Any]] = {
        "0": {
            "id": 0,
            "status": sequence_status([status for status, _ in steps]),
            "name": f"{category} sequence",
            "detail": "",
            "deps": list(range(1, len(steps) + 1)),
        }
    }
    for i, (status, name) in enumerate(steps, start=1):
        events[str(i)] = {"id": i, "status": status, "name": name, "detail": "", "deps": []}
    doc: dict[str, Any] = {
        "id": phase_id,
        "category": category,
        "detail": detail,
        "estimate_millis": estimate_ms,
        "final_event_id": 0,
        "events": events,
    }
    if original_estimate_ms is not None:
        doc["original_estimate_millis"] = original_estimate_ms
    if start_ms is not None:
        doc["unix_millis_start_time"] = start_ms
    if finish_ms is not None:
        doc["unix_millis_finish_time"] = finish_ms
    return doc


class TaskLogBook(BaseModel):
    """A task's log entries with RMF's ``seq`` per log (the task's, each phase's, each event's).

    Hands out only what is new (:meth:`flush`); a pydantic model, so a site
    that must survive its own restart (the VDA 5050 master control) can keep
    it, counters and unsent entries, with the task.
    """

    task_id: str
    next_seq: dict[str, int] = {}
    """The next ``seq`` of each log, by key: ``task``, ``<phase>`` or ``<phase>/<event>``."""
    pending: list[tuple[str, dict[str, Any]]] = []
    """Entries not flushed yet, with their log's key."""

    def add(
        self,
        now_ms: int,
        text: str,
        *,
        tier: str = "info",
        phase: int | None = None,
        event: int | None = None,
    ) -> None:
        key = "task" if phase is None else f"{phase}" if event is None else f"{phase}/{event}"
        seq = self.next_seq.get(key, 0)
        self.next_seq[key] = seq + 1
        entry = {"seq": seq, "tier": tier, "unix_millis_time": now_ms, "text": text}
        self.pending.append((key, entry))

    def flush(self) -> dict[str, Any] | None:
        """The task_log update with the entries added since the last flush, or ``None``."""
        if not self.pending:
            return None
        update: dict[str, Any] = {"task_id": self.task_id}
        for key, entry in self.pending:
            if key == "task":
                update.setdefault("log", []).append(entry)
                continue
            phase, _, event = key.partition("/")
            target = update.setdefault("phases", {}).setdefault(phase, {})
            if event:
                target.setdefault("events", {}).setdefault(event, []).append(entry)
            else:
                target.setdefault("log", []).append(entry)
        self.pending = []
        return update
