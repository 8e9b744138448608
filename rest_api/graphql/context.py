"""What every resolver of one request (or one websocket) shares: who asks, and the batch loaders.

Loaders live per request, so a list of 100 tasks asking each for its robot,
its request, its latest log line and its log costs a few queries, not 400, and two
requests never share a cache (nor what one user may see with another).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiohttp import web
from graphql import GraphQLError
from pydantic import BaseModel, ValidationError
from strawberry.dataloader import DataLoader
from strawberry.types import Info
from tortoise.functions import Max

from fleetcore.auth import Principal
from fleetcore.contract.envelope import Publication
from fleetcore.contract.rooms import DOOR_STATE, FLEET_STATE, LIFT_STATE, RoomTemplate, match_room
from fleetcore.store import models as db
from rest_api.keys import BUS_KEY
from rest_api.logs import LOG_COLUMNS, log_entry
from rest_api.query import LogQuery, now_ms
from rest_api.routes.events import HistoryQuery, robot_histories
from rest_api.routes.tasks import empty_task_log, task_logs
from rest_api.visibility import task_filter

JsonObject = dict[str, Any]
K = TypeVar("K", bound=Hashable)
A = TypeVar("A", bound=Hashable)
GRAPHQL_PATH = "/graphql"
"""Where the endpoint is mounted; its SDL is under it."""


class Refusal(GraphQLError):
    """An answer the client caused (not found, forbidden, bad input): shown as is, with a code.

    Every other exception is masked to a generic message (``schema.py``).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, extensions={"code": code})


REST_CODES = {
    400: "BAD_REQUEST",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    409: "CONFLICT",
    422: "BAD_USER_INPUT",
    503: "UNAVAILABLE",
}
"""What a REST status raised by the shared code becomes in GraphQL's ``extensions.code``."""
STATUS_OF = {code: status for status, code in REST_CODES.items()}
"""The REST status of a refusal, for the audit log."""


def refusal(exc: web.HTTPException) -> Refusal:
    """The REST error the shared code raised, as a GraphQL error with the same detail."""
    try:
        detail = orjson.loads(exc.text or "{}").get("detail", exc.reason)
    except orjson.JSONDecodeError:
        detail = exc.reason
    message = detail if isinstance(detail, str) else "; ".join(_problems(detail))
    return Refusal(REST_CODES.get(exc.status, "BAD_REQUEST"), message)


def validated(model: type[Any], raw: dict[str, Any]) -> Any:
    """REST's query model over the arguments; its field errors become one BAD_USER_INPUT."""
    try:
        value: BaseModel = model.model_validate(
            {key: item for key, item in raw.items() if item is not None},
            context={"now_ms": now_ms()},
        )
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}"
            for error in exc.errors(include_url=False, include_context=False)
        ]
        raise Refusal("BAD_USER_INPUT", "; ".join(problems)) from None
    return value


def _problems(detail: Any) -> list[str]:
    if not isinstance(detail, list):
        return [str(detail)]
    return [f"{'.'.join(map(str, item.get('loc', [])))}: {item.get('msg')}" for item in detail]


@dataclass
class Context:
    """The ``info.context`` of every resolver."""

    request: web.Request
    principal: Principal | None = None
    """None only on a websocket before its ``connection_init`` was accepted."""
    connection_params: dict[str, Any] = field(default_factory=dict)
    websocket: web.WebSocketResponse | None = None
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self)

    @property
    def app(self) -> web.Application:
        return self.request.app

    @property
    def user(self) -> Principal:
        if self.principal is None:
            raise Refusal("UNAUTHENTICATED", "missing_token")
        return self.principal


def _grouped(keys: Sequence[tuple[K, A]]) -> dict[A, list[K]]:
    """A batch's keys (object, field arguments) as the objects asking each set of arguments.

    Relative periods (``-60000``) are read once per set, so the objects of one
    list share one "now" and one query.
    """
    groups: dict[A, list[K]] = {}
    for subject, arguments in keys:
        groups.setdefault(arguments, []).append(subject)
    return groups


def context_of(info: Info[Context, None]) -> Context:
    return info.context


class Loaders:
    """One DataLoader per kind of nested field; each batch is one query (or one bus read)."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self.tasks = DataLoader[str, db.TaskState | None](self._tasks)
        self.requests = DataLoader[str, str | None](self._requests)
        self.latest_logs = DataLoader[str, JsonObject | None](self._latest_logs)
        self.task_logs = DataLoader[tuple[str, str], JsonObject](self._task_logs)
        self.histories = DataLoader[tuple[tuple[str, str], tuple[str, int]], list[JsonObject]](
            self._histories
        )
        self.task_alerts = DataLoader[str, list[str]](self._task_alerts)
        self.responses = DataLoader[str, str | None](self._responses)
        self.fleets = DataLoader[str, Publication | None](self._rooms(FLEET_STATE, "name"))
        self.doors = DataLoader[str, Publication | None](self._rooms(DOOR_STATE, "name"))
        self.lifts = DataLoader[str, Publication | None](self._rooms(LIFT_STATE, "name"))

    async def _tasks(self, ids: Sequence[str]) -> list[db.TaskState | None]:
        """Task rows the user may read (the same filter as ``/tasks``); others are None."""
        rows = db.TaskState.filter(id__in=list(ids))
        visible = task_filter(self._context.user)
        if visible is not None:
            rows = rows.filter(visible)
        found = {row.id: row for row in await rows}
        return [found.get(task_id) for task_id in ids]

    async def _requests(self, ids: Sequence[str]) -> list[str | None]:
        rows = await db.TaskRequest.filter(task_id__in=list(ids)).values_list("task_id", "request")
        found = dict(rows)
        return [found.get(task_id) for task_id in ids]

    async def _latest_logs(self, ids: Sequence[str]) -> list[JsonObject | None]:
        """Each task's newest log entry, whatever its phase: two queries for the whole batch."""
        newest: list[Any] = (
            await db.TaskLogEntry.filter(task_id__in=list(ids))
            .annotate(newest=Max("id"))
            .group_by("task_id")
            .values_list("newest", flat=True)
        )
        rows: list[dict[str, Any]] = await db.TaskLogEntry.filter(id__in=newest).values(
            "task_id", *LOG_COLUMNS
        )
        found = {row["task_id"]: log_entry(row) for row in rows}
        return [found.get(task_id) for task_id in ids]

    async def _task_logs(self, keys: Sequence[tuple[str, str]]) -> list[JsonObject]:
        """Each task's log in a period (``between`` as given): two queries per distinct period.

        The rows are of tasks the store holds, all of them reported: one that never
        logged has an empty log, never none.
        """
        found: dict[tuple[str, str], JsonObject] = {}
        for between, task_ids in _grouped(keys).items():
            period = validated(LogQuery, {"between": between}).between
            logs = await task_logs(task_ids, period)
            for task_id in task_ids:
                found[task_id, between] = logs.get(task_id) or empty_task_log(task_id)
        return [found[key] for key in keys]

    async def _histories(
        self, keys: Sequence[tuple[tuple[str, str], tuple[str, int]]]
    ) -> list[list[JsonObject]]:
        """Robots' position histories (``between`` and ``first`` as given): one query per
        distinct pair of them."""
        found: dict[tuple[tuple[str, str], tuple[str, int]], list[JsonObject]] = {}
        for (between, first), robots in _grouped(keys).items():
            query = validated(HistoryQuery, {"between": between, "limit": first})
            histories = await robot_histories(robots, query)
            for robot in robots:
                found[robot, (between, first)] = histories.get(robot, [])
        return [found[key] for key in keys]

    async def _task_alerts(self, ids: Sequence[str]) -> list[list[str]]:
        rows: list[tuple[str, str]] = (
            await db.AlertRequest.filter(task_id__in=list(ids))
            .order_by("unix_millis_alert_time", "id")
            .values_list("task_id", "data")
        )
        found: dict[str, list[str]] = {}
        for task_id, data in rows:
            found.setdefault(task_id, []).append(data)
        return [found.get(task_id, []) for task_id in ids]

    async def _responses(self, ids: Sequence[str]) -> list[str | None]:
        rows = await db.AlertResponse.filter(id__in=list(ids)).values_list("id", "data")
        found = dict(rows)
        return [found.get(alert_id) for alert_id in ids]

    def _rooms(self, template: RoomTemplate, param: str) -> Any:
        """Sticky values of one template, read once per request with ``sticky_all``."""

        async def load(names: Sequence[str]) -> list[Publication | None]:
            pubs = await self._context.app[BUS_KEY].sticky_all(template)
            found = {match_room(pub.room).params[param]: pub for pub in pubs}
            return [found.get(name) for name in names]

        return load
