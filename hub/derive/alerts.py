"""Which derived conditions have an open alert, so each opens once and closes once."""

from __future__ import annotations

from hub.derive.base import AlertClose, AlertOpen, Output, Severity, fitted


class AlertBook:
    """Open alerts by condition key (e.g. ``robot_offline/fleetA/r1``).

    Restored from the database on start (alerts requested and not yet
    resolved), so a restart neither re-opens an open alert nor forgets to
    close one. Conditions are kept as stored (:func:`fitted` to their column).
    """

    def __init__(self, open_alerts: dict[str, str] | None = None) -> None:
        self._open: dict[str, str] = dict(open_alerts or {})

    def is_open(self, condition: str) -> bool:
        return fitted(condition) in self._open

    @property
    def open_alerts(self) -> dict[str, str]:
        return dict(self._open)

    def open(
        self,
        out: Output,
        condition: str,
        time_ms: int,
        tier: Severity,
        title: str,
        message: str,
        *,
        subtitle: str = "",
        task_id: str | None = None,
        parameters: tuple[tuple[str, str], ...] = (),
    ) -> None:
        condition = fitted(condition)
        if condition in self._open:
            return
        action = AlertOpen(condition, time_ms, tier, title, subtitle, message, task_id, parameters)
        self._open[condition] = action.alert_id
        out.opened.append(action)

    def close(self, out: Output, condition: str, time_ms: int) -> None:
        condition = fitted(condition)
        alert_id = self._open.pop(condition, None)
        if alert_id is not None:
            out.closed.append(AlertClose(alert_id, condition, time_ms))
