"""When rmf-web's schedules run, as pure arithmetic on UTC millis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from fleetcore.contract.schedules import Schedule, day_of

CREATED = "2026-11-22T09:03:20.500"
"""A Sunday."""


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def iso(unix_ms: int) -> str:
    return datetime.fromtimestamp(unix_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")


CASES: list[tuple[str, dict[str, Any], int, list[str]]] = [
    (
        "every 10 minutes from creation",
        {"period": "minute", "every": 10},
        3,
        ["2026-11-22T09:03:21", "2026-11-22T09:13:21", "2026-11-22T09:23:21"],
    ),
    (
        "every minute at second 17",
        {"period": "minute", "at": ":17"},
        2,
        ["2026-11-22T09:04:17", "2026-11-22T09:05:17"],
    ),
    (
        "every hour at minute 30",
        {"period": "hour", "at": ":30"},
        2,
        ["2026-11-22T09:30:00", "2026-11-22T10:30:00"],
    ),
    (
        "every 2 days at 10:30",
        {"period": "day", "every": 2, "at": "10:30"},
        2,
        ["2026-11-22T10:30:00", "2026-11-24T10:30:00"],
    ),
    (
        "every wednesday at 13:15",
        {"period": "wednesday", "at": "13:15"},
        2,
        ["2026-11-25T13:15:00", "2026-12-02T13:15:00"],
    ),
    (
        "every monday keeps the start's time of day",
        {"period": "monday"},
        1,
        ["2026-11-23T09:03:21"],
    ),
    (
        "start_from moves the first occurrence",
        {"period": "day", "at": "08:00", "start_from": "2026-12-01T00:00:00Z"},
        1,
        ["2026-12-01T08:00:00"],
    ),
    (
        "until ends the series",
        {"period": "hour", "at": ":00", "until": "2026-11-22T11:30:00"},
        5,
        ["2026-11-22T10:00:00", "2026-11-22T11:00:00"],
    ),
]


@pytest.mark.parametrize(
    ("spec", "count", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_occurrences(spec: dict[str, Any], count: int, expected: list[str]) -> None:
    schedule = Schedule.model_validate(spec)
    created = ms(CREATED)

    found = schedule.occurrences(created, created, created + 30 * 86_400_000)

    assert [iso(t) for t in found[:count]] == expected


def test_occurrences_are_strictly_after_the_window_start() -> None:
    schedule = Schedule.model_validate({"period": "minute", "at": ":00"})
    start = ms("2026-11-22T09:04:00")

    assert [iso(t) for t in schedule.occurrences(0, start, start + 60_000)] == [
        "2026-11-22T09:05:00"
    ]


def test_a_schedule_past_its_until_has_no_next_occurrence() -> None:
    schedule = Schedule.model_validate({"period": "day", "until": "2020-01-01T00:00:00"})

    assert schedule.next_after(ms(CREATED), ms(CREATED)) is None


@pytest.mark.parametrize(
    ("period", "at"),
    [("day", ":17"), ("minute", "10:30"), ("hour", "10:30:00"), ("day", "25:00"), ("monday", "x")],
)
def test_an_at_that_does_not_fit_the_period_is_refused(period: str, at: str) -> None:
    with pytest.raises(ValidationError, match="at"):
        Schedule.model_validate({"period": period, "at": at})


def test_day_of_is_the_utc_date() -> None:
    assert day_of(ms("2026-11-22T23:59:59")) == "2026-11-22"
