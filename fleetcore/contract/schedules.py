"""When a scheduled task runs: rmf-web's schedules (every / period / at, start_from / until).

rmf-web hands its schedules to the ``schedule`` library, which runs jobs in
one process's memory on its local clock. Here a schedule is a pure
function from a time window to the occurrences in it, so the hub can ask
"what was due since I last looked" after a restart or a failover, and key
each occurrence for exactly-once dispatch. Times are UTC: an ``at`` of
``"10:30"`` is 10:30 UTC, and a datetime without a zone is taken as UTC.

=========  =====================  =========================================
period     at                     occurrences
=========  =====================  =========================================
minute     ``":SS"``              every ``every`` minutes, at second SS
hour       ``"MM:SS"``/``":MM"``  every ``every`` hours, at that minute
day        ``"HH:MM[:SS]"``       every ``every`` days, at that time
monday...  ``"HH:MM[:SS]"``       every ``every`` weeks on that day
=========  =====================  =========================================

Without ``at`` the first occurrence is the schedule's start (``start_from``,
else when the task was created), and a weekday schedule keeps its start's
time of day, as the ``schedule`` library does.
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DAY_MS = 86_400_000


class Period(enum.StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"
    DAY = "day"
    HOUR = "hour"
    MINUTE = "minute"


_UNIT_MS = {Period.MINUTE: 60_000, Period.HOUR: 3_600_000, Period.DAY: DAY_MS}
_AT_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    Period.MINUTE: (re.compile(r"^:(?P<s>\d\d)$"), '":SS"'),
    Period.HOUR: (re.compile(r"^(?P<m>\d\d)?:(?P<s>\d\d)$"), '"MM:SS" or ":MM"'),
    Period.DAY: (re.compile(r"^(?P<h>\d\d):(?P<m>\d\d)(:(?P<s>\d\d))?$"), '"HH:MM" or "HH:MM:SS"'),
}


class Schedule(BaseModel):
    """rmf-web's ``ScheduledTaskSchedule``."""

    model_config = ConfigDict(extra="forbid")

    every: int | None = Field(None, ge=1, le=10_000)
    start_from: datetime | None = None
    until: datetime | None = None
    period: Period
    at: str | None = None

    @field_validator("start_from", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)

    @field_validator("at")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        """rmf-web shows a schedule without ``at`` as ``""``; taken back, it means none."""
        return value or None

    @model_validator(mode="after")
    def _at_matches_period(self) -> Schedule:
        if self.at is not None:
            _offset_ms(self.period, self.at)
        return self

    def occurrences(self, anchor_ms: int, after_ms: int, until_ms: int) -> list[int]:
        """Occurrences in ``(after_ms, until_ms]`` (unix millis), for a task created at ``anchor_ms``."""
        start = _ms(self.start_from) if self.start_from is not None else anchor_ms
        end = min(until_ms, _ms(self.until)) if self.until is not None else until_ms
        step = (self.every or 1) * (
            7 * DAY_MS if self.period in WEEKDAYS else _UNIT_MS[self.period]
        )
        first = self._first(start)
        if end <= after_ms or end < first:
            return []
        k = max(0, (after_ms - first) // step + 1) if after_ms >= first else 0
        out = []
        at = first + k * step
        while at <= end:
            out.append(at)
            at += step
        return out

    def next_after(self, anchor_ms: int, after_ms: int) -> int | None:
        """The first occurrence after ``after_ms``, or None if the schedule has ended by then."""
        start = _ms(self.start_from) if self.start_from is not None else anchor_ms
        first = self._first(start)
        step = self._step_ms()
        at = first if after_ms < first else first + ((after_ms - first) // step + 1) * step
        return at if self.until is None or at <= _ms(self.until) else None

    def _step_ms(self) -> int:
        unit = 7 * DAY_MS if self.period in WEEKDAYS else _UNIT_MS[self.period]
        return (self.every or 1) * unit

    def _first(self, start_ms: int) -> int:
        """The first occurrence at or after ``start_ms``."""
        start_ms = -(-start_ms // 1000) * 1000  # whole seconds, not before the start
        if self.period in WEEKDAYS:
            day = start_ms - start_ms % DAY_MS
            offset = _offset_ms(Period.DAY, self.at) if self.at else start_ms - day
            # 1970-01-01 was a Thursday (weekday 3).
            weekday = (day // DAY_MS + 3) % 7
            candidate = day + ((WEEKDAYS.index(self.period) - weekday) % 7) * DAY_MS + offset
            return candidate if candidate >= start_ms else candidate + 7 * DAY_MS
        if self.at is None:
            return start_ms
        unit = _UNIT_MS[self.period]
        candidate = start_ms - start_ms % unit + _offset_ms(self.period, self.at)
        return candidate if candidate >= start_ms else candidate + unit


def _offset_ms(period: Period, at: str) -> int:
    """Where in its period (minute, hour, day) ``at`` falls, in millis; ValueError if malformed."""
    pattern, shape = _AT_FORMATS[Period.DAY if period in WEEKDAYS else period]
    found = pattern.match(at)
    if found is None:
        raise ValueError(f"at {at!r} does not fit period {period.value!r}: use {shape}")
    parts = {k: int(v) for k, v in found.groupdict().items() if v is not None}
    if period is Period.HOUR and "m" not in parts:
        parts = {"m": parts["s"]}  # ":MM" names the minute
    hours, minutes, seconds = parts.get("h", 0), parts.get("m", 0), parts.get("s", 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"at {at!r} is not a valid time")
    return ((hours * 60 + minutes) * 60 + seconds) * 1000


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def day_of(unix_ms: int) -> str:
    """The UTC date of an instant as ``YYYY-MM-DD``, the form of ``except_dates``."""
    return datetime.fromtimestamp(unix_ms / 1000, UTC).date().isoformat()
