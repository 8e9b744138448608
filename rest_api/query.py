"""Query-string models with rmf-web's syntax, validated to field-level 422s.

rmf-web's conventions, kept so its dashboard and api-client work unchanged:

- lists are comma separated (``status=queued,underway``);
- a time range is ``start,end`` in unix millis, both ends inclusive, or
  ``-N`` for the last N millis up to now (rmf-web reads ``-N`` as "since
  0" for the task time filters; here it means the same as for logs);
- ``label`` items are ``name=value`` (a bare ``name`` means value ``""``)
  and a task must carry all of them;
- ``order_by`` lists fields, ``-`` before one sorts it descending, and
  ``label=<name>`` sorts by that label's value.

Unlike rmf-web, a bad value is refused rather than dropped: an unknown
status or sort field would otherwise silently widen or reorder the result.
Errors come back in FastAPI's shape, ``{"detail": [{"loc": ["query",
field, ...], "msg", "type", "input"}]}``, which rmf-web's clients already read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from fleetcore.contract.rmf.task import TaskStatus
from rest_api.responses import unprocessable

if TYPE_CHECKING:
    from aiohttp import web

Q = TypeVar("Q", bound=BaseModel)

MAX_MILLIS = 2**63 - 1
MAX_LIMIT = 1000
TASK_SORT_FIELDS = (
    "id",
    "category",
    "assigned_group",
    "assigned_to",
    "status",
    "requester",
    "unix_millis_start_time",
    "unix_millis_finish_time",
    "unix_millis_request_time",
)
SORT_ALIASES = {"id_": "id"}
"""rmf-web's column name for the task id, which its dashboard may send."""
LABEL_SORT_PREFIX = "label="


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _split(value: object) -> object:
    """``"a, b,,c"`` → ``["a", "b", "c"]``; an empty string means no filter, as in rmf-web."""
    if not isinstance(value, str):
        return value
    items = [item.strip() for item in value.split(",")]
    return [item for item in items if item] or None


def _millis(text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a whole number of unix millis") from None
    if not 0 <= value <= MAX_MILLIS:
        raise ValueError(f"{value} is outside 0..{MAX_MILLIS}")
    return value


def _time_range(value: object, info: ValidationInfo) -> object:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("-"):
        now = info.context["now_ms"] if info.context else now_ms()
        return (max(now - _millis(text[1:]), 0), now)
    start, comma, end = text.partition(",")
    if not comma:
        raise ValueError("expected 'start,end' in unix millis, or '-N' for the last N millis")
    low, high = _millis(start), _millis(end)
    if low > high:
        raise ValueError(f"the range starts ({low}) after it ends ({high})")
    return (low, high)


def _labels(value: object) -> object:
    items = _split(value)
    if not isinstance(items, list):
        return items
    labels: dict[str, str] = {}
    for item in items:
        name, _, label_value = item.partition("=")
        if not name:
            raise ValueError(f"label {item!r} has no name; use name=value")
        labels[name] = label_value
    return labels


@dataclass(frozen=True, slots=True)
class SortKey:
    """One ``order_by`` item: a task column, or the value of a label."""

    column: str | None
    label: str | None
    descending: bool


def _sort_keys(value: object) -> object:
    items = _split(value)
    if not isinstance(items, list):
        return () if items is None else items
    keys = []
    for item in items:
        descending = item.startswith("-")
        name = item[1:] if descending else item
        if name.startswith(LABEL_SORT_PREFIX):
            label = name[len(LABEL_SORT_PREFIX) :]
            if not label:
                raise ValueError(f"{item!r} names no label; use label=<name>")
            keys.append(SortKey(None, label, descending))
            continue
        column = SORT_ALIASES.get(name, name)
        if column not in TASK_SORT_FIELDS:
            raise ValueError(
                f"cannot order by {name!r}; use {', '.join(TASK_SORT_FIELDS)} or label=<name>,"
                " with '-' before a field to sort it descending"
            )
        keys.append(SortKey(column, None, descending))
    return tuple(keys)


def _string(description: str, **extra: Any) -> WithJsonSchema:
    """On the wire every one of these is a plain string, whatever it parses into."""
    return WithJsonSchema({"type": "string", "description": description, **extra})


CommaList = Annotated[
    list[str] | None,
    BeforeValidator(_split),
    _string("Comma separated list; any item matches."),
]
StatusList = Annotated[
    list[TaskStatus] | None,
    BeforeValidator(_split),
    _string("Comma separated list of task statuses; any matches."),
]
_RANGE_SCHEMA = _string(
    "'start,end' in unix millis, both inclusive, or '-N' for the last N millis.",
    pattern=r"^\s*(-\d+|\d+\s*,\s*\d+)\s*$",
)
TimeRange = Annotated[tuple[int, int] | None, BeforeValidator(_time_range), _RANGE_SCHEMA]
Period = Annotated[tuple[int, int], BeforeValidator(_time_range), _RANGE_SCHEMA]
Labels = Annotated[
    dict[str, str] | None,
    BeforeValidator(_labels),
    _string("Comma separated name=value items; a task must carry every one."),
]
SortKeys = Annotated[
    tuple[SortKey, ...],
    BeforeValidator(_sort_keys),
    _string(
        "Comma separated fields to order by, '-' before a field for descending: "
        + ", ".join(TASK_SORT_FIELDS)
        + ", or label=<name>. Ties are broken by task id."
    ),
]


class _Query(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TaskQuery(_Query):
    """``GET /tasks``: filters (all must hold) and pagination."""

    task_id: CommaList = Field(None, description="Comma separated task ids.")
    category: CommaList = Field(None, description="Comma separated task categories.")
    assigned_to: CommaList = Field(None, description="Comma separated robot names.")
    status: StatusList = Field(None, description="Comma separated task statuses.")
    requester: CommaList = Field(None, description="Comma separated requester names.")
    label: Labels = Field(
        None, description="Comma separated name=value labels; a task must carry all of them."
    )
    start_time_between: TimeRange = Field(None, description="Range of the task's start time.")
    finish_time_between: TimeRange = Field(None, description="Range of the task's finish time.")
    request_time_between: TimeRange = Field(
        None, description="Range of the time the task was requested."
    )
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = Field(
        100, description=f"Most tasks to return, 1..{MAX_LIMIT}."
    )
    offset: Annotated[int, Field(ge=0, le=2**31 - 1)] = Field(
        0, description="Tasks to skip before the first returned."
    )
    order_by: SortKeys = Field((), description="Sort order, e.g. -unix_millis_start_time.")
    after: str | None = Field(
        None,
        min_length=1,
        description="A keyset page instead of an offset: the tasks after this task id in the"
        " order asked (at most one order_by field, no label), as fast deep in the list as at"
        " its start. Pass the last task of the page before. Not in rmf-web.",
    )

    @field_validator("after")
    @classmethod
    def _keyset(cls, after: str | None, info: ValidationInfo) -> str | None:
        if after is None:
            return after
        if info.data.get("offset"):
            raise ValueError("give offset or after, not both")
        keys = info.data.get("order_by", ())
        if len(keys) > 1 or any(key.label is not None for key in keys):
            raise ValueError("after pages by at most one order_by field, and not by a label")
        return after


class LogQuery(_Query):
    """``GET /tasks/{id}/log`` and ``/fleets/{name}/log``: the period of entries to return."""

    between: Period = Field(
        "-60000",
        validate_default=True,
        description="Entries whose time falls in 'start,end' (unix millis, inclusive), or in"
        " the last N millis with '-N'. Defaults to the last minute, as in rmf-web.",
    )


def parse_query(model: type[Q], request: web.Request) -> Q:
    """Validate the request's query string or raise a 422 naming each bad field."""
    raw = dict(request.query.items())
    try:
        return model.model_validate(raw, context={"now_ms": now_ms()})
    except ValidationError as exc:
        raise unprocessable(_field_errors("query", exc)) from None


async def parse_body(model: type[Q], request: web.Request) -> Q:
    """Validate the request's JSON body or raise a 422 naming each bad field.

    JSON allows what no store or client here can carry: an integer beyond
    64 bits, a lone surrogate (``"\\ud800"``). A free-form field (a task's
    description) would pass the model and fail later, when it is encoded to
    be stored or answered; such a body is refused here instead.
    """
    try:
        body = model.model_validate_json(await request.read())
    except ValidationError as exc:
        raise unprocessable(_field_errors("body", exc)) from None
    try:
        orjson.dumps(body.model_dump(mode="json"))
    except TypeError as exc:
        raise unprocessable(
            [{"loc": ["body"], "msg": f"cannot be stored: {exc}", "type": "value_error"}]
        ) from None
    return body


def _field_errors(where: str, exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {
            "loc": [where, *error["loc"]],
            "msg": error["msg"],
            "type": error["type"],
            # A body that is not JSON comes back as its raw bytes.
            "input": _text(error["input"]),
        }
        for error in exc.errors(include_url=False, include_context=False)
    ]


def _text(value: Any) -> Any:
    """The rejected input as JSON can carry it back: bytes as text, integers beyond 64 bits
    (which JSON allows but the encoder, like most peers, cannot write) as their digits."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not -(2**63) <= value < 2**64:
        return str(value)
    if isinstance(value, dict):
        return {key: _text(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_text(item) for item in value]
    return value
