"""The task connection's orders and cursors: ``/tasks``'s sortable columns, paged by keyset.

A cursor names the order it was made in and the last task's position in it
(the sort column's value and the task id), so the next page starts right
after that task however the tasks before it changed: no offset, no task
twice or skipped, ties broken by id as ``/tasks`` breaks them. A cursor is
only meaningful in its own order; used with another, it is refused rather
than read as a position it is not.
"""

from __future__ import annotations

import base64
from enum import Enum
from typing import Any

import orjson
import strawberry
from tortoise.queryset import QuerySet

from fleetcore.store import models as db
from rest_api.graphql.context import Refusal
from rest_api.query import SortKey
from rest_api.routes.tasks import TaskSet, keyset_page

_TIME_COLUMNS = frozenset(
    ("unix_millis_start_time", "unix_millis_finish_time", "unix_millis_request_time")
)
_LONG = range(-(2**63), 2**63)


@strawberry.enum(description="A column to order tasks by: one of /tasks's order_by fields.")
class TaskOrder(Enum):
    ID = "id"
    CATEGORY = "category"
    ASSIGNED_GROUP = "assigned_group"
    ASSIGNED_TO = "assigned_to"
    STATUS = "status"
    REQUESTER = "requester"
    UNIX_MILLIS_START_TIME = "unix_millis_start_time"
    UNIX_MILLIS_FINISH_TIME = "unix_millis_finish_time"
    UNIX_MILLIS_REQUEST_TIME = "unix_millis_request_time"


def sort_key(order: TaskOrder, descending: bool) -> SortKey:
    return SortKey(order.value, None, descending)


async def task_rows(
    tasks: TaskSet, key: SortKey, after: str | None, first: int
) -> list[db.TaskState]:
    """Up to ``first + 1`` tasks after the cursor ``after`` (the extra one: a next page exists)."""
    position = None if after is None else _position(after, key)
    return await keyset_page(tasks, key, position, first + 1, _rows)


def cursor(key: SortKey, row: db.TaskState) -> str:
    """The opaque position of ``row`` in ``key``'s order."""
    value = getattr(row, _column(key))
    return base64.urlsafe_b64encode(orjson.dumps([_order_name(key), value, row.id])).decode()


async def _rows(tasks: QuerySet[db.TaskState]) -> list[db.TaskState]:
    return await tasks


def _column(key: SortKey) -> str:
    return key.column or "id"


def _order_name(key: SortKey) -> str:
    """The order as ``/tasks``'s ``order_by`` spells it."""
    return f"-{_column(key)}" if key.descending else _column(key)


def _position(text: str, key: SortKey) -> tuple[Any, str]:
    """(sort value, task id) from a cursor of ``key``'s order; anything else is refused."""
    try:
        decoded = orjson.loads(base64.urlsafe_b64decode(text.encode()))
    except ValueError:
        decoded = None
    if not (isinstance(decoded, list) and len(decoded) == 3):
        raise Refusal("BAD_USER_INPUT", "after: not a cursor this API gave")
    order, value, task_id = decoded
    if not isinstance(order, str) or not _is_text(task_id) or not _fits(_column(key), value):
        raise Refusal("BAD_USER_INPUT", "after: not a cursor this API gave")
    if order != _order_name(key):
        raise Refusal(
            "BAD_USER_INPUT",
            f"after: a cursor of the tasks ordered by {order!r}, not by {_order_name(key)!r};"
            " a cursor pages only the order it came from, so start this one from its first page",
        )
    return value, task_id


def _fits(column: str, value: Any) -> bool:
    """Whether ``value`` can be a value of ``column`` (a forged cursor cannot reach the query)."""
    if value is None:
        return column != "id"
    if column in _TIME_COLUMNS:
        return type(value) is int and value in _LONG
    return _is_text(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and "\x00" not in value
