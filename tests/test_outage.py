"""Outages are told from other failures, and logged once per change of state."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from tortoise.exceptions import IntegrityError, OperationalError

from fleetcore.errors import BusError
from fleetcore.outage import Outage, is_transient


def sqlite_error(path: Path, locked: bool) -> sqlite3.OperationalError:
    """A real SQLite error: a locked database, or a table that does not exist."""
    holder = sqlite3.connect(path, isolation_level=None)
    other = sqlite3.connect(path, timeout=0)
    try:
        holder.execute("CREATE TABLE IF NOT EXISTS t (x)")
        if locked:
            holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(sqlite3.OperationalError) as caught:
            other.execute("INSERT INTO t VALUES (1)" if locked else "INSERT INTO nope VALUES (1)")
        return caught.value
    finally:
        other.close()
        holder.close()


def wrapped(cause: BaseException, outer: type[Exception] = OperationalError) -> Exception:
    """``cause`` as tortoise or the bus hand it on: raised while handling it."""
    try:
        try:
            raise cause
        except BaseException as exc:
            raise outer(str(exc)) from exc
    except Exception as exc:
        return exc


def test_a_refused_or_lost_connection_is_an_outage() -> None:
    assert is_transient(ConnectionRefusedError(111, "refused"))
    assert is_transient(wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("gone")))
    assert is_transient(wrapped(asyncpg.exceptions.CannotConnectNowError("starting")))
    assert is_transient(wrapped(RedisConnectionError("down"), BusError))


def test_a_locked_sqlite_database_is_an_outage_a_missing_table_is_not(tmp_path: Path) -> None:
    assert is_transient(wrapped(sqlite_error(tmp_path / "db", locked=True)))
    assert not is_transient(wrapped(sqlite_error(tmp_path / "db", locked=False)))


def test_a_value_the_database_refuses_is_not_an_outage() -> None:
    assert not is_transient(wrapped(asyncpg.exceptions.StringDataRightTruncationError("long")))
    assert not is_transient(wrapped(sqlite3.IntegrityError("NOT NULL"), IntegrityError))
    assert not is_transient(ValueError("bad"))


def test_an_outage_is_logged_when_it_begins_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "test.outage")
    outage = Outage(logging.getLogger("test.outage"), "reading the lease")
    for _ in range(5):
        outage.failed(ConnectionRefusedError(111, "Connection refused"))
    outage.recovered()
    outage.recovered()
    outage.failed(TimeoutError())

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            "reading the lease failed (ConnectionRefusedError: [Errno 111] Connection refused); retrying",
        ),
        ("WARNING", caplog.records[1].getMessage()),
        ("WARNING", "reading the lease failed (TimeoutError); retrying"),
    ]
    assert caplog.records[1].getMessage().startswith("reading the lease works again after ")
    assert all(r.exc_info is None for r in caplog.records)


def test_a_failure_that_is_no_outage_is_an_error_with_its_traceback_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "test.outage")
    outage = Outage(logging.getLogger("test.outage"), "a step")
    outage.failed(ConnectionRefusedError(111, "refused"))
    outage.failed(KeyError("bug"))
    outage.failed(KeyError("bug"))

    assert [r.levelname for r in caplog.records] == ["WARNING", "ERROR"]
    assert caplog.records[1].exc_info is not None
