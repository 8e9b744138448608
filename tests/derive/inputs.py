"""Builders of validated ingest messages, and a fake clock that drives a Deriver."""

from __future__ import annotations

from typing import Any

from fleetcore.contract import rmf
from fleetcore.contract.ingest import IngestMessage, IngestType
from fleetcore.settings import Settings
from hub.derive import DeriveConfig, Deriver
from hub.derive.base import Output

T0 = 1_700_000_000_000

CONFIG = DeriveConfig.from_settings(
    Settings(
        derive_stale_s=10,
        derive_offline_s=30,
        derive_restart_grace_s=20,
        derive_stuck_s=60,
        derive_task_stale_s=120,
        derive_escalation_failures=3,
        derive_escalation_window_s=300,
    )
)


def robot(
    name: str = "r1",
    *,
    status: str = "idle",
    x: float = 0.0,
    y: float = 0.0,
    battery: float = 0.9,
    task_id: str = "",
    issues: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "task_id": task_id,
        "unix_millis_time": T0,
        "battery": battery,
        "location": {"map": "L1", "x": x, "y": y, "yaw": 0.0},
        "issues": issues or [],
    }


def fleet_state(fleet: str = "f", *robots: dict[str, Any]) -> IngestMessage:
    data = {"name": fleet, "robots": {r["name"]: r for r in robots}}
    return IngestMessage(IngestType.FLEET_STATE, rmf.FleetState.model_validate(data))


def task_state(
    task_id: str,
    status: str,
    *,
    fleet: str = "f",
    robot_name: str = "r1",
    estimate_ms: int | None = None,
    labels: tuple[str, ...] = (),
) -> IngestMessage:
    data: dict[str, Any] = {
        "booking": {"id": task_id, "labels": list(labels)},
        "category": "patrol",
        "detail": {"places": ["lobby"]},
        "status": status,
        "assigned_to": {"group": fleet, "name": robot_name},
    }
    if estimate_ms is not None:
        data["original_estimate_millis"] = estimate_ms
    return IngestMessage(IngestType.TASK_STATE, rmf.TaskState.model_validate(data))


class Driver:
    """A Deriver on a fake clock: ``at(seconds)`` sets the time, then feed or tick."""

    def __init__(self, deriver: Deriver | None = None, config: DeriveConfig = CONFIG) -> None:
        self.deriver = deriver or Deriver(config)
        self.now = T0

    def at(self, seconds: float) -> Driver:
        self.now = T0 + round(seconds * 1000)
        return self

    def feed(self, message: IngestMessage) -> Output:
        return self.deriver.observe(message, self.now)

    def tick(self) -> Output:
        return self.deriver.tick(self.now)


def kinds(out: Output) -> list[str]:
    return [e.kind for e in out.events]
