"""History retention: prune each history kind by age and by count, in small batches.

rmf-web kept every update forever and a real site grew 20-30 GB in five
days. The hub prunes on a timer; each statement deletes at most
``batch_rows`` rows and yields to the event loop, so pruning never holds
the database (or ingest) for long. History rows are never published, so
pruning needs no seq and runs beside the writer.

Site sessions (the last frame committed of each acknowledged site, for
dropping what it sends again) go with the logs: a session silent that long
has nothing left to send again.

Alerts (requests, operators' responses, resolutions of derived alerts) go
by their own time too, with two exceptions that keep what the hub restores
from them true: a derived alert still open is kept (the next hub would
otherwise forget its condition holds), and a response or resolution is kept
while its request is (pruning it alone would reopen the alert).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.models import Model

from fleetcore.settings import Settings
from fleetcore.store import models

DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    model: type[Model]
    time_column: str
    max_age_ms: int
    """0: kept whatever their age."""
    order_column: str = "id"
    """What orders rows from oldest to newest for the row limit (the id, where it grows)."""
    keep: Callable[[], Q] | None = None
    """Rows never pruned, however old (a fresh filter per query)."""


def _open_derived_alert() -> Q:
    resolved = Subquery(models.AlertResolution.all().values("id"))
    return Q(condition__isnull=False) & ~Q(id__in=resolved)


def _request_kept() -> Q:
    return Q(id__in=Subquery(models.AlertRequest.all().values("id")))


def history_kinds(settings: Settings) -> list[Kind]:
    def days(value: float) -> int:
        return round(value * DAY_MS)

    return [
        Kind(
            "positions",
            models.RobotPositionSample,
            "unix_millis_time",
            days(settings.retention_positions_days),
        ),
        Kind(
            "task_logs", models.TaskLogEntry, "unix_millis_time", days(settings.retention_logs_days)
        ),
        Kind(
            "fleet_logs",
            models.FleetLogEntry,
            "unix_millis_time",
            days(settings.retention_logs_days),
        ),
        Kind(
            "site_sessions",
            models.SiteSession,
            "updated_ms",
            days(settings.retention_logs_days),
            order_column="updated_ms",
        ),
        Kind(
            "events", models.DerivedEvent, "unix_millis_time", days(settings.retention_events_days)
        ),
        Kind(
            "task_history",
            models.TaskStateHistory,
            "received_ms",
            days(settings.retention_task_history_days),
        ),
        Kind(
            "alert_requests",
            models.AlertRequest,
            "unix_millis_alert_time",
            days(settings.retention_alerts_days),
            order_column="unix_millis_alert_time",
            keep=_open_derived_alert,
        ),
        Kind(
            "alert_responses",
            models.AlertResponse,
            "unix_millis_response_time",
            days(settings.retention_alerts_days),
            order_column="unix_millis_response_time",
            keep=_request_kept,
        ),
        Kind(
            "alert_resolutions",
            models.AlertResolution,
            "unix_millis_time",
            days(settings.retention_alerts_days),
            order_column="unix_millis_time",
            keep=_request_kept,
        ),
    ]


class Retention:
    def __init__(self, settings: Settings) -> None:
        self.kinds = history_kinds(settings)
        self.max_rows = settings.retention_max_rows
        self.batch_rows = max(1, settings.retention_batch_rows)

    async def prune(self, now_ms: int) -> dict[str, int]:
        """Delete what is older than each kind's age or beyond the row limit; rows deleted per kind."""
        deleted: dict[str, int] = {}
        for kind in self.kinds:
            count = 0
            if kind.max_age_ms > 0:
                cutoff = now_ms - kind.max_age_ms
                count += await self._delete_while(kind, {f"{kind.time_column}__lt": cutoff})
            if self.max_rows > 0:
                boundary = (
                    await kind.model.all()
                    .order_by(f"-{kind.order_column}")
                    .offset(self.max_rows)
                    .limit(1)
                    .values_list(kind.order_column, flat=True)
                )
                if boundary:
                    filters = {f"{kind.order_column}__lte": boundary[0]}
                    count += await self._delete_while(kind, filters)
            deleted[kind.name] = count
        return deleted

    async def _delete_while(self, kind: Kind, filters: dict[str, Any]) -> int:
        pk = kind.model._meta.pk_attr
        total = 0
        while True:
            query = kind.model.filter(**filters)
            if kind.keep is not None:
                query = query.exclude(kind.keep())
            ids = await query.order_by(pk).limit(self.batch_rows).values_list(pk, flat=True)
            if not ids:
                return total
            total += await kind.model.filter(**{f"{pk}__in": list(ids)}).delete()
            await asyncio.sleep(0)
            if len(ids) < self.batch_rows:
                return total
