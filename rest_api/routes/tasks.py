"""Tasks: the filtered list and the logs from the database, a task's state from the sticky store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from aiohttp import web
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import RawSQL, Subquery
from tortoise.queryset import QuerySet

from fleetcore.auth import Permission, Principal
from fleetcore.bus.base import Bus
from fleetcore.contract.rmf import TaskLog, TaskState
from fleetcore.contract.rooms import TASK_STATE
from fleetcore.store import models as db
from fleetcore.store.plans import custom_plans
from fleetcore.store.rows import plain_rows
from rest_api.access import principal_of, reads
from rest_api.keys import BUS_KEY
from rest_api.logs import LOG_COLUMNS, log_entry
from rest_api.query import LogQuery, SortKey, TaskQuery
from rest_api.registry import ApiRoutes
from rest_api.responses import json_array, not_found, positioned, unprocessable
from rest_api.rooms import latest, visible_state
from rest_api.task_positions import counted, counted_page
from rest_api.visibility import task_filter, task_row_visible, task_state_view

T = TypeVar("T")

routes = ApiRoutes("Tasks", access=reads(Permission.task_read))

_OUTER_TASK_ID = RawSQL(f'"{db.TaskState._meta.db_table}"."id"')
"""The listed task's id inside a correlated subquery; a constant, never user input."""
ID_ORDER = SortKey("id", None, False)
"""The order when none is asked: by task id."""


@dataclass(frozen=True, slots=True)
class TaskSet:
    """The tasks matching a query that a user may read, unordered; read a page at a time.

    ``rows`` is the tasks with every filter. With a label filter, ``labels`` is the first
    label's rows with the other filters as a condition on their task: a page in task id
    or request time order is then a range of that label's index (:class:`db.TaskLabel`
    holds the request time), ended at the page's end, joined to only the tasks it returns;
    from ``rows`` it would be every task of the label, sorted.
    """

    rows: QuerySet[db.TaskState]
    labels: QuerySet[db.TaskLabel] | None = None
    whole: bool = False
    """Every task: no filter, and a user who may read them all (the database counts its orders)."""

    def page(
        self, keys: tuple[SortKey, ...], where: dict[str, Any], offset: int, limit: int
    ) -> QuerySet[db.TaskState]:
        """The tasks also matching ``where`` (filters on the sort column and the id), in
        ``keys``' order with ties by id, from ``offset`` on, at most ``limit``."""
        column = self._label_order(keys)
        if self.labels is not None and column is not None:
            key = keys[0] if keys else ID_ORDER
            ids = (
                self.labels.filter(**{_label_lookup(name): value for name, value in where.items()})
                .order_by(*dict.fromkeys((f"-{column}" if key.descending else column, "task_id")))
                .offset(offset)
                .limit(limit)
            )
            return _ordered(db.TaskState.filter(id__in=Subquery(ids.values("task_id"))), keys)
        page = _ordered(self.rows.filter(**where), keys).offset(offset).limit(limit)
        if offset == 0 or any(key.label is not None for key in keys):
            return page
        # The page's ids first, then their rows: the rows skipped by the offset are then
        # read from an index (the sort column's, which ends with the id) rather than the
        # table, so a page deep in the list costs index entries, not a row each. A first
        # page skips nothing: there the detour only makes filtered scans overshoot.
        return _ordered(db.TaskState.filter(id__in=Subquery(page.values("id"))), keys)

    def planned(self) -> AbstractAsyncContextManager[BaseDBAsyncClient | None]:
        """The connection to read pages on: with a label filter, one planning each query for
        its labels (:func:`custom_plans`); else the default (None)."""
        return custom_plans() if self.labels is not None else nullcontext(None)

    def _label_order(self, keys: tuple[SortKey, ...]) -> str | None:
        """The label row's column that holds ``keys``' order, if a label's index does."""
        if self.labels is None or len(keys) > 1:
            return None
        key = keys[0] if keys else ID_ORDER
        return LABEL_INDEX_ORDERS.get(key.column or "") if key.label is None else None


LABEL_INDEX_ORDERS = {"id": "task_id", "unix_millis_request_time": "unix_millis_request_time"}
"""The task orders a label's index holds, by the label row's column holding each."""


def _label_lookup(lookup: str) -> str:
    """A filter on a task's id or request time (``id__gt``) as the same on its label rows."""
    column, separator, operator = lookup.partition("__")
    return LABEL_INDEX_ORDERS[column] + separator + operator


def visible_tasks(query: TaskQuery, principal: Principal) -> TaskSet:
    """The tasks matching ``query``'s filters that ``principal`` may read, unordered and unpaged.

    ``/tasks`` pages them by offset or by keyset (``after``); GraphQL's connection by keyset.
    """
    filters: dict[str, Any] = {}
    for column in ("task_id", "category", "assigned_to", "status", "requester"):
        values = getattr(query, column)
        if values is not None:
            filters[f"{'id' if column == 'task_id' else column}__in"] = values
    for column, period in (
        ("unix_millis_start_time", query.start_time_between),
        ("unix_millis_finish_time", query.finish_time_between),
        ("unix_millis_request_time", query.request_time_between),
    ):
        if period is not None:
            filters[f"{column}__gte"], filters[f"{column}__lte"] = period
    tasks = db.TaskState.filter(**filters)
    visible = task_filter(principal)
    if visible is not None:
        tasks = tasks.filter(visible)
    if not query.label:
        return TaskSet(tasks, whole=not filters and visible is None)
    (name, value), *others = query.label.items()
    labels = db.TaskLabel.filter(label_name=name, label_value=value)
    if filters or visible is not None:
        labels = labels.filter(task_id__in=Subquery(tasks.values("id")))
    for name, value in others:
        labels = labels.filter(task_id__in=_tasks_labelled(name, value))
    rows = tasks
    for name, value in query.label.items():
        rows = rows.filter(id__in=_tasks_labelled(name, value))
    return TaskSet(rows, labels)


def _tasks_labelled(name: str, value: str) -> Subquery:
    return Subquery(db.TaskLabel.filter(label_name=name, label_value=value).values("task_id"))


def _task_query(query: TaskQuery, principal: Principal) -> QuerySet[db.TaskState]:
    """One offset page."""
    return visible_tasks(query, principal).page(query.order_by, {}, query.offset, query.limit)


async def _offset_page(query: TaskQuery, principal: Principal) -> list[str]:
    """The stored states of one offset page."""
    matching = visible_tasks(query, principal)
    if matching.whole and query.offset > 0 and counted(query.order_by):
        key = query.order_by[0] if query.order_by else ID_ORDER
        return await counted_page(matching, key, query.offset, query.limit, _stored_states)
    if len(query.order_by) == 1 and _labels_lead(matching, query.order_by[0]):
        return await _label_sorted_page(matching, query.order_by[0], query.offset, query.limit)
    async with matching.planned() as conn:
        tasks = matching.page(query.order_by, {}, query.offset, query.limit).using_db(conn)
        if any(key.label is not None for key in query.order_by):
            # Whole rows: tortoise's values_list() drops the parentheses of a subquery
            # annotation, which label sorting needs.
            return [row.data for row in await tasks]
        # Only the stored JSON: a hundred model objects a page were most of its cost.
        return await _stored_states(tasks)


def _labels_lead(tasks: TaskSet, key: SortKey) -> bool:
    """Whether ``key`` sorts by a label with the tasks lacking it last (PostgreSQL ascending,
    SQLite descending), and no label filter: the label's index then holds the page's start."""
    return key.label is not None and tasks.labels is None and _nulls_last(key)


def _nulls_last(key: SortKey) -> bool:
    """Whether the database sorts missing values last in ``key``'s direction (PostgreSQL
    ascending, SQLite descending)."""
    return key.descending == (db.TaskState._meta.db.capabilities.dialect == "sqlite")


async def _label_sorted_page(tasks: TaskSet, key: SortKey, offset: int, limit: int) -> list[str]:
    """A page in a label's order, read from the label's index (name, value, task): sorting
    every task by a subquery each took seconds at a million. The tasks without the label
    follow the last one with it, by id (their sort value is null, ties by id)."""
    labelled = db.TaskLabel.filter(label_name=key.label)
    if not tasks.whole:
        labelled = labelled.filter(task_id__in=Subquery(tasks.rows.values("id")))
    ids = (
        labelled.order_by("-label_value" if key.descending else "label_value", "task_id")
        .offset(offset)
        .limit(limit)
    )
    pages = _ordered(db.TaskState.filter(id__in=Subquery(ids.values("task_id"))), (key,))
    page = [row.data for row in await pages]
    if len(page) == limit:
        return page
    carrying = offset + len(page) if page else await labelled.count()
    lacking = tasks.rows.exclude(id__in=_tasks_labelled_any(key.label or "")).order_by("id")
    rest = lacking.offset(max(offset - carrying, 0)).limit(limit - len(page))
    return page + await _stored_states(rest)


def _tasks_labelled_any(name: str) -> Subquery:
    return Subquery(db.TaskLabel.filter(label_name=name).values("task_id"))


async def _keyset_page(query: TaskQuery, principal: Principal, after: str) -> list[str]:
    """The tasks after task ``after`` in the query's order (the cursor is the task's row)."""
    visible = task_filter(principal)
    cursors = db.TaskState.filter(id=after)
    cursor = await (cursors if visible is None else cursors.filter(visible)).first()
    if cursor is None:
        raise unprocessable(
            [
                {
                    "loc": ["query", "after"],
                    "msg": f"no task {after!r} to page after",
                    "type": "value_error",
                    "input": after,
                }
            ]
        )
    key = query.order_by[0] if query.order_by else ID_ORDER
    position = (getattr(cursor, key.column or "id"), after)
    return await keyset_page(
        visible_tasks(query, principal), key, position, query.limit, _stored_states
    )


async def _stored_states(tasks: QuerySet[db.TaskState]) -> list[str]:
    return [data for (data,) in await plain_rows(tasks.values_list("data"))]


async def keyset_page(
    tasks: TaskSet,
    key: SortKey,
    after: tuple[Any, str] | None,
    limit: int,
    read: Callable[[QuerySet[db.TaskState]], Awaitable[list[T]]],
) -> list[T]:
    """Up to ``limit`` of ``tasks`` in ``key``'s order after the position ``after``, read as up
    to three index ranges; ``after`` is (the sort column's value, the task id), None: from the start.

    The order is (column, id) with the id ascending, so "after (v, i)" is: the rest of
    v's tasks (id > i), then the values past v, then the tasks without a value when
    the database sorts those last (PostgreSQL for ascending, SQLite for descending);
    each range is one index scan from its start, however deep the cursor is. ``/tasks``
    (``after``) and GraphQL's task connection page the same way.
    """
    ranges: list[dict[str, Any]] = [{}] if after is None else _ranges_after(key, *after)
    rows: list[T] = []
    async with tasks.planned() as conn:
        for where in ranges:
            if len(rows) == limit:
                break
            rows += await read(tasks.page((key,), where, 0, limit - len(rows)).using_db(conn))
    return rows


def _ranges_after(key: SortKey, value: Any, after: str) -> list[dict[str, Any]]:
    """The filters of each range, in order; every one is a lookup on the column or the id."""
    column = key.column or "id"
    if column == "id":
        return [{"id__lt": after} if key.descending else {"id__gt": after}]
    nulls_last = _nulls_last(key)
    if value is None:
        ranges: list[dict[str, Any]] = [{f"{column}__isnull": True, "id__gt": after}]
        if not nulls_last:
            ranges.append({f"{column}__isnull": False})
        return ranges
    ranges = [
        {column: value, "id__gt": after},
        {f"{column}__{'lt' if key.descending else 'gt'}": value},
    ]
    if nulls_last:
        ranges.append({f"{column}__isnull": True})
    return ranges


def _ordered(tasks: QuerySet[db.TaskState], keys: tuple[SortKey, ...]) -> QuerySet[db.TaskState]:
    """Apply ``order_by``; the task id breaks ties, so pages never overlap or skip."""
    terms: list[str] = []
    for index, key in enumerate(keys):
        column = key.column
        if key.label is not None:
            column = f"label_sort_{index}"
            tasks = tasks.annotate(
                **{
                    column: Subquery(
                        db.TaskLabel.filter(task_id=_OUTER_TASK_ID, label_name=key.label).values(
                            "label_value"
                        )
                    )
                }
            )
        terms.append(f"-{column}" if key.descending else f"{column}")
    return tasks.order_by(*terms, "id")


@routes.get_query(
    "/tasks",
    query=TaskQuery,
    response=list[TaskState],
    positioned=True,
)
async def query_task_states(request: web.Request, query: TaskQuery) -> web.Response:
    """Task states matching every given filter, one page of them.

    Comma separated lists match any of their items; ranges are inclusive.
    """
    position = await request.app[BUS_KEY].position()
    principal = principal_of(request)
    if query.after is None:
        rows = await _offset_page(query, principal)
    else:
        rows = await _keyset_page(query, principal, query.after)
    return positioned(json_array(data.encode() for data in rows), position)


@routes.get(
    "/tasks/{task_id}/state",
    response=TaskState,
    errors=(404,),
    positioned=True,
)
async def get_task_state(request: web.Request) -> web.Response:
    """A task's latest state. Available in socket.io."""
    return await visible_state(request, TASK_STATE, "task_id", "task", task_state_view)


@routes.get_query(
    "/tasks/{task_id}/log",
    query=LogQuery,
    response=TaskLog,
    errors=(404,),
    positioned=True,
)
async def get_task_log(request: web.Request, query: LogQuery) -> web.Response:
    """A task's log entries in a period: task-level, per phase and per event. Available in socket.io.

    Every phase and event that ever logged is listed, with an empty list when
    it logged nothing in the period, as in rmf-web.
    """
    task_id = request.match_info["task_id"]
    if not await task_row_visible(principal_of(request), task_id):
        raise not_found(f"no task {task_id!r}")
    bus = request.app[BUS_KEY]
    position = await bus.position()
    log = await task_log(bus, task_id, query.between)
    if log is None:
        raise not_found(f"no task {task_id!r}")
    return positioned(orjson.dumps(log), position)


async def task_log(bus: Bus, task_id: str, between: tuple[int, int]) -> dict[str, Any] | None:
    """A task's log in rmf-web's TaskLog shape, or None for a task nobody reported.

    The caller has checked that the user may read the task.
    """
    log = (await task_logs([task_id], between)).get(task_id)
    if log is None and await latest(bus, TASK_STATE, task_id=task_id) is not None:
        return empty_task_log(task_id)
    return log


def empty_task_log(task_id: str) -> dict[str, Any]:
    """The log of a task that never logged."""
    return {"task_id": task_id, "log": [], "phases": {}}


async def task_logs(task_ids: Sequence[str], between: tuple[int, int]) -> dict[str, dict[str, Any]]:
    """The logs of the tasks of ``task_ids`` that ever logged, by task id: two queries for all.

    Every phase and event that ever logged is listed, with an empty list when it
    logged nothing in the period, as in rmf-web.
    """
    start, end = between
    rows: list[dict[str, Any]] = (
        await db.TaskLogEntry.filter(
            task_id__in=list(task_ids), unix_millis_time__gte=start, unix_millis_time__lte=end
        )
        .order_by("id")
        .values("task_id", "phase", "event", *LOG_COLUMNS)
    )
    sources: list[tuple[str, str | None, str | None]] = (
        await db.TaskLogEntry.filter(task_id__in=list(task_ids))
        .distinct()
        .values_list("task_id", "phase", "event")
    )
    logs: dict[str, dict[str, Any]] = {}

    def entries(task_id: str, phase: str | None, event: str | None) -> list[dict[str, Any]]:
        """The list an entry of this task, phase and event goes in, made on first sight."""
        log = logs.setdefault(task_id, empty_task_log(task_id))
        if phase is None:
            top: list[dict[str, Any]] = log["log"]
            return top
        source = log["phases"].setdefault(phase, {"log": [], "events": {}})
        found: list[dict[str, Any]] = (
            source["log"] if event is None else source["events"].setdefault(event, [])
        )
        return found

    for task_id, phase, event in sorted(sources, key=_source_order):
        entries(task_id, phase, event)
    for row in rows:
        entries(row["task_id"], row["phase"], row["event"]).append(log_entry(row))
    return logs


def _source_order(source: tuple[str, str | None, str | None]) -> tuple[str, str, str]:
    """Phases and events are numbered strings in RMF: list "2" before "10"."""
    task_id, phase, event = source
    return (task_id, _numeric(phase), _numeric(event))


def _numeric(key: str | None) -> str:
    if key is None:
        return ""
    return key.zfill(20) if key.isdigit() else key
