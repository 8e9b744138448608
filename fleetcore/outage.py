"""Outages of the database or the bus: which failures to wait out, and logging them once.

A connection that failed or was refused, a server starting, shutting down or
out of resources, a lock or serialization conflict: the same work succeeds
once the outage is over, so retry loops wait these out (:func:`is_transient`).
Anything else (a value the database refuses, a bug) fails again the same way.

An outage is expected and needs no one: :class:`Outage` logs it once when it
begins and once when it ends, at WARNING and without a traceback. A failure
that is not an outage needs a human: it is logged at ERROR with its traceback,
also once until things work again.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator

import asyncpg
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

_TRANSIENT: tuple[type[BaseException], ...] = (
    OSError,  # includes ConnectionError, TimeoutError, tortoise's DBConnectionError
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.TransactionRollbackError,
    RedisConnectionError,
    RedisTimeoutError,
)
_SQLITE_TRANSIENT = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
"""SQLite's primary result codes of a database that is busy, locked or out of room or reach."""


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it: drivers' errors arrive wrapped (tortoise, the bus)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is an outage of the database or the bus, which retrying waits out."""
    for cause in causes(exc):
        if isinstance(cause, _TRANSIENT):
            return True
        if isinstance(cause, sqlite3.OperationalError):
            return (cause.sqlite_errorcode & 0xFF) in _SQLITE_TRANSIENT
    return False


def describe(exc: BaseException) -> str:
    """One line naming a failure: its type and message, without a traceback."""
    text = str(exc).strip().replace("\n", " ")
    name = type(exc).__name__
    return f"{name}: {text[:300]}" if text else name


class Outage:
    """What one retry loop has seen of its dependency: logs each change of state once.

    Call :meth:`failed` for each failed attempt and :meth:`recovered` after
    each success; only the first failure of a run of failures (or a change
    from an outage to another kind of failure) and the recovery are logged.
    """

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        expected: Callable[[BaseException], bool] = is_transient,
    ) -> None:
        """``expected`` tells an outage from a failure that needs a human (default: any
        :func:`is_transient` failure)."""
        self._logger = logger
        self._what = what
        self._expected = expected
        self._since: float | None = None
        self._transient = False

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException, *, retry_in: float | None = None) -> None:
        """``retry_in``: the wait before the next attempt, logged at DEBUG on every failure."""
        if retry_in is not None:
            self._logger.debug("%s failed; retrying in %.3fs", self._what, retry_in)
        transient = self._expected(exc)
        if self._since is not None and transient == self._transient:
            return
        if self._since is None:
            self._since = time.monotonic()
        self._transient = transient
        if transient:
            self._logger.warning("%s failed (%s); retrying", self._what, describe(exc))
        else:
            self._logger.error("%s failed; retrying", self._what, exc_info=exc)

    def recovered(self) -> None:
        if self._since is None:
            return
        self._logger.warning(
            "%s works again after %.1fs", self._what, time.monotonic() - self._since
        )
        self._since = None
