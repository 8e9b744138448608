"""History retention: each kind pruned by its own age or row limit, alerts a year by default.

Against the real database of the pass (SQLite, or a PostgreSQL schema), at a
fixed "now", with rows written as the hub writes them.
"""

from __future__ import annotations

import pytest

from fleetcore.settings import Settings
from fleetcore.store import models
from hub.retention import DAY_MS, Retention

NOW = 1_800_000_000_000


def _ago(days: float) -> int:
    return NOW - round(days * DAY_MS)


async def _position(days_ago: float) -> None:
    await models.RobotPositionSample.create(
        fleet="f", robot="r1", unix_millis_time=_ago(days_ago), map="L1", x=0.0, y=0.0, yaw=0.0
    )


async def _alert(alert_id: str, days_ago: float, *, condition: str | None = None) -> None:
    await models.AlertRequest.create(
        id=alert_id,
        unix_millis_alert_time=_ago(days_ago),
        response_expected=True,
        condition=condition,
        data="{}",
        seq=1,
    )


async def _resolution(alert_id: str, days_ago: float) -> None:
    await models.AlertResolution.create(id=alert_id, unix_millis_time=_ago(days_ago), seq=2)


async def _response(alert_id: str, days_ago: float) -> None:
    await models.AlertResponse.create(
        id=alert_id,
        unix_millis_response_time=_ago(days_ago),
        response="ok",
        responder="op",
        data="{}",
        seq=2,
    )


async def _ids(
    model: type[models.AlertRequest | models.AlertResponse | models.AlertResolution],
) -> set[str]:
    return {str(row["id"]) for row in await model.all().values("id")}


@pytest.mark.usefixtures("database")
async def test_positions_older_than_their_age_are_pruned_and_newer_ones_kept(
    settings: Settings,
) -> None:
    for days in (8, 6.9, 1):
        await _position(days)
    deleted = await Retention(settings).prune(NOW)
    assert deleted["positions"] == 1
    assert await models.RobotPositionSample.filter(unix_millis_time__lt=_ago(7)).count() == 0
    assert await models.RobotPositionSample.all().count() == 2


@pytest.mark.usefixtures("database")
async def test_resolved_alerts_are_kept_a_year_by_default_then_pruned(settings: Settings) -> None:
    await _alert("old", 366, condition="robot_offline/f/r1")
    await _resolution("old", 366)
    await _alert("recent", 364, condition="robot_offline/f/r2")
    await _resolution("recent", 364)
    deleted = await Retention(settings).prune(NOW)
    assert (deleted["alert_requests"], deleted["alert_resolutions"]) == (1, 1)
    assert await _ids(models.AlertRequest) == await _ids(models.AlertResolution) == {"recent"}


@pytest.mark.usefixtures("database")
async def test_alert_retention_is_configurable(settings: Settings) -> None:
    await _alert("a", 31)
    await _response("a", 31)
    await _alert("b", 29)
    await Retention(settings.replace(retention_alerts_days=30)).prune(NOW)
    assert await _ids(models.AlertRequest) == {"b"}
    assert await _ids(models.AlertResponse) == set()


@pytest.mark.usefixtures("database")
async def test_zero_days_keeps_alerts_for_ever(settings: Settings) -> None:
    await _alert("ancient", 5000)
    await Retention(settings.replace(retention_alerts_days=0)).prune(NOW)
    assert await _ids(models.AlertRequest) == {"ancient"}


@pytest.mark.usefixtures("database")
async def test_a_derived_alert_still_open_is_kept_however_old(settings: Settings) -> None:
    await _alert("open", 900, condition="robot_offline/f/r1")
    await Retention(settings).prune(NOW)
    assert await _ids(models.AlertRequest) == {"open"}


@pytest.mark.usefixtures("database")
async def test_an_operator_alert_goes_by_its_time_answered_or_not(settings: Settings) -> None:
    await _alert("unanswered", 400)
    await _alert("answered", 400)
    await _response("answered", 399)
    await Retention(settings).prune(NOW)
    assert await _ids(models.AlertRequest) == set()
    assert await _ids(models.AlertResponse) == set()


@pytest.mark.usefixtures("database")
async def test_a_response_is_kept_while_its_request_is(settings: Settings) -> None:
    await _alert("a", 100)
    await _response("a", 400)  # clocks disagree: the answer looks older than its request
    await Retention(settings).prune(NOW)
    assert await _ids(models.AlertResponse) == {"a"}


@pytest.mark.usefixtures("database")
async def test_the_row_limit_keeps_the_newest_alerts_by_their_time(settings: Settings) -> None:
    for i, days in enumerate((3, 1, 2, 4)):
        await _alert(f"a{i}", days)
    await Retention(settings.replace(retention_max_rows=2)).prune(NOW)
    assert await _ids(models.AlertRequest) == {"a1", "a2"}


@pytest.mark.usefixtures("database")
async def test_old_rows_beyond_one_batch_are_all_pruned(settings: Settings) -> None:
    for _ in range(7):
        await _position(30)
    deleted = await Retention(settings.replace(retention_batch_rows=2)).prune(NOW)
    assert deleted["positions"] == 7
    assert await models.RobotPositionSample.all().count() == 0


@pytest.mark.usefixtures("database")
async def test_site_sessions_silent_longer_than_the_logs_are_kept_are_pruned(
    settings: Settings,
) -> None:
    await models.SiteSession.create(session="gone", frame=9, updated_ms=_ago(31))
    await models.SiteSession.create(session="live", frame=3, updated_ms=_ago(1))
    deleted = await Retention(settings).prune(NOW)
    assert deleted["site_sessions"] == 1
    assert [session.session for session in await models.SiteSession.all()] == ["live"]
