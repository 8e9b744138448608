"""Offset pages of the whole task list without walking the offset (PostgreSQL).

An offset page from the middle of a million tasks walked half a million index
entries: tens of milliseconds of CPU each, which a few concurrent clients turn
into seconds. The database counts the tasks of each hour of every time column
and of each run of about 1,000 task ids (:class:`db.TaskOrderHour`,
:class:`db.TaskIdMark`, kept by migration 0015's triggers in the writing
transaction), so an offset is found by summing a few thousand counts, and the
page is read from the start of its hour or run, skipping at most a run's tasks.
The running sums add integers (an hour or a run holds far fewer than 2**31
tasks): a bigint's sum is a numeric, twice as slow over a year's hours.

The counts and the page are read in one repeatable-read transaction: one
snapshot, so the page is the plain ``OFFSET`` page of that moment. Only the
whole list has counts (no filter, a user who may read every task), in task id
or time order; SQLite, other orders and filtered lists walk.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from fleetcore.store import models as db
from rest_api.query import SortKey

if TYPE_CHECKING:
    from rest_api.routes.tasks import TaskSet

T = TypeVar("T")

HOUR_MS = 3_600_000
NULL_HOUR = -(2**63)
"""The hour row that counts the tasks without a value (migration 0015)."""
TIME_COLUMNS = frozenset(
    {"unix_millis_start_time", "unix_millis_finish_time", "unix_millis_request_time"}
)

Ranges = list[tuple[dict[str, Any], int]]
"""Where the page's tasks are, in order: each range's filters and the tasks it skips first."""


def counted(keys: tuple[SortKey, ...]) -> bool:
    """Whether the database counts the tasks of this order (and can place an offset in it)."""
    if db.TaskState._meta.db.capabilities.dialect != "postgres" or len(keys) > 1:
        return False
    column = keys[0].column if keys else "id"
    return column == "id" or column in TIME_COLUMNS


async def counted_page(
    tasks: TaskSet,
    key: SortKey,
    offset: int,
    limit: int,
    read: Callable[[QuerySet[db.TaskState]], Awaitable[list[T]]],
) -> list[T]:
    """The whole list's page at ``offset`` in ``key``'s order, found by the counts."""
    async with in_transaction() as conn:
        await conn.execute_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        column = key.column or "id"
        if column == "id":
            ranges = await _id_ranges(conn, key.descending, offset)
        else:
            ranges = await _time_ranges(conn, column, key.descending, offset)
        rows: list[T] = []
        for where, skip in ranges:
            if len(rows) == limit:
                break
            rows += await read(tasks.page((key,), where, skip, limit - len(rows)).using_db(conn))
        return rows


async def _id_ranges(conn: BaseDBAsyncClient, descending: bool, offset: int) -> Ranges:
    """The run of ids holding ``offset``: read from its first id (its end, descending)."""
    direction = "DESC" if descending else ""
    rows = await conn.execute_query_dict(
        "SELECT id_from, id_to, before FROM ("
        " SELECT id_from, tasks, lead(id_from) OVER (ORDER BY id_from) AS id_to,"
        f" sum(tasks::integer) OVER (ORDER BY id_from {direction}) - tasks AS before"
        " FROM task_id_mark) runs"
        f" WHERE before + tasks > $1 ORDER BY id_from {direction} LIMIT 1",
        [offset],
    )
    if not rows:
        return []
    run = rows[0]
    skip = offset - int(run["before"])
    if not descending:
        return [({"id__gte": run["id_from"]}, skip)]
    return [({} if run["id_to"] is None else {"id__lt": run["id_to"]}, skip)]


async def _time_ranges(
    conn: BaseDBAsyncClient, column: str, descending: bool, offset: int
) -> Ranges:
    """The hour holding ``offset``, read from its start (its end, descending), then on to the
    tasks without a value, which PostgreSQL sorts last (first, descending)."""
    without = await conn.execute_query_dict(
        "SELECT tasks FROM task_order_hour WHERE sort_column = $1 AND hour = $2",
        [column, NULL_HOUR],
    )
    unset = int(without[0]["tasks"]) if without else 0
    if descending:
        if offset < unset:
            return [({f"{column}__isnull": True}, offset), ({f"{column}__isnull": False}, 0)]
        hour = await _hour_at(conn, column, "DESC", offset - unset)
        if hour is None:
            return []
        start, skip = hour
        return [({f"{column}__lt": start + HOUR_MS}, skip)]
    hour = await _hour_at(conn, column, "", offset)
    if hour is None:
        valued = await conn.execute_query_dict(
            "SELECT coalesce(sum(tasks), 0) AS tasks FROM task_order_hour"
            " WHERE sort_column = $1 AND hour <> $2",
            [column, NULL_HOUR],
        )
        return [({f"{column}__isnull": True}, offset - int(valued[0]["tasks"]))]
    start, skip = hour
    return [({f"{column}__gte": start}, skip), ({f"{column}__isnull": True}, 0)]


async def _hour_at(
    conn: BaseDBAsyncClient, column: str, direction: str, offset: int
) -> tuple[int, int] | None:
    """(the first millisecond, the tasks to skip in it) of the hour holding ``offset`` among
    the tasks with a value, or None past them."""
    rows = await conn.execute_query_dict(
        "SELECT hour, before FROM ("
        " SELECT hour, tasks,"
        f" sum(tasks::integer) OVER (ORDER BY hour {direction}) - tasks AS before"
        " FROM task_order_hour WHERE sort_column = $1 AND hour <> $2) hours"
        f" WHERE before + tasks > $3 ORDER BY hour {direction} LIMIT 1",
        [column, NULL_HOUR, offset],
    )
    if not rows:
        return None
    return int(rows[0]["hour"]) * HOUR_MS, offset - int(rows[0]["before"])
