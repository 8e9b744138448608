"""Thresholds of the derivations, in milliseconds, built once from :class:`Settings`."""

from __future__ import annotations

from dataclasses import dataclass

from fleetcore.errors import ConfigError
from fleetcore.settings import Settings


@dataclass(frozen=True, slots=True)
class Connectivity:
    stale_ms: int
    offline_ms: int


@dataclass(frozen=True, slots=True)
class DeriveConfig:
    """Every derivation threshold; see the ``derive_*`` settings for what each means.

    Built by :meth:`from_settings` only, so the defaults are the settings' own.
    """

    connectivity: Connectivity
    fleet_connectivity: dict[str, Connectivity]
    restart_grace_ms: int
    stuck_ms: int
    stuck_distance_m: float
    battery_low: float
    battery_critical: float
    battery_hysteresis: float
    task_stale_ms: int
    task_delay_tolerance: float
    escalation_failures: int
    escalation_window_ms: int
    reassign: bool
    position_interval_ms: int
    position_distance_m: float

    def thresholds(self, fleet: str) -> Connectivity:
        return self.fleet_connectivity.get(fleet, self.connectivity)

    @classmethod
    def from_settings(cls, settings: Settings) -> DeriveConfig:
        return cls(
            connectivity=Connectivity(_ms(settings.derive_stale_s), _ms(settings.derive_offline_s)),
            fleet_connectivity=parse_fleet_thresholds(settings.derive_fleet_thresholds),
            restart_grace_ms=_ms(settings.derive_restart_grace_s),
            stuck_ms=_ms(settings.derive_stuck_s),
            stuck_distance_m=settings.derive_stuck_distance_m,
            battery_low=settings.derive_battery_low,
            battery_critical=settings.derive_battery_critical,
            battery_hysteresis=settings.derive_battery_hysteresis,
            task_stale_ms=_ms(settings.derive_task_stale_s),
            task_delay_tolerance=settings.derive_task_delay_tolerance,
            escalation_failures=settings.derive_escalation_failures,
            escalation_window_ms=_ms(settings.derive_escalation_window_s),
            reassign=settings.derive_reassign,
            position_interval_ms=_ms(settings.history_position_interval_s),
            position_distance_m=settings.history_position_distance_m,
        )


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def parse_fleet_thresholds(text: str) -> dict[str, Connectivity]:
    """``fleetA=5/15,fleetB=20/60`` → per-fleet stale/offline thresholds; a clear error otherwise."""
    result: dict[str, Connectivity] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, values = item.partition("=")
        stale, _, offline = values.partition("/")
        try:
            pair = Connectivity(_ms(float(stale)), _ms(float(offline)))
        except ValueError:
            raise ConfigError(
                f"FLEETHUB_DERIVE_FLEET_THRESHOLDS: {item!r} is not fleet=stale_s/offline_s"
            ) from None
        if not name.strip() or pair.stale_ms <= 0 or pair.offline_ms < pair.stale_ms:
            raise ConfigError(
                f"FLEETHUB_DERIVE_FLEET_THRESHOLDS: {item!r} needs a fleet and 0 < stale <= offline"
            )
        result[name.strip()] = pair
    return result
