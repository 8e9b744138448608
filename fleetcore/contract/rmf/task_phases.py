"""rmf_api_msgs task_state phases as a site renders them: one sequence event over its steps.

Shared by every site fleethub simulates or runs (the simulator, the VDA 5050
master control), so their tasks read alike in rooms and rmf-web's task views.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
