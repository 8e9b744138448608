"""The single writer: numbers publications, commits them with their rows, then publishes.

Group commit: the writer takes everything queued (up to ``max_rows``),
lingering at most ``max_delay`` for more, and commits it in one transaction
together with the new ``seq``, a check of its epoch (fencing) and the
publications themselves (the outbox). Only after the commit does it publish,
so whatever a client is told is already readable over REST; a hub that dies
between commit and publish republishes the outbox on its next start.

History no publication carries (:data:`HISTORY_MODELS`, the robots' position
samples) is committed in a transaction of its own right after the batch is
published, and a change counts as committed (a site's frame is acknowledged)
only once its history is too. When a burst of a whole site's fleets brings
thousands of samples, their rows would otherwise hold every publication of
the burst back by as long again as the rest of its commit. A hub that dies
between the two transactions loses that batch's samples: the history is
downsampled anyway, and each robot's next sample follows within the interval.

An outage of the database or the bus (:func:`~fleetcore.outage.is_transient`)
is waited out, retrying with backoff while ingest waits on the bounded queue:
nothing accepted is dropped. Any other failure of a batch is one change's
(every way in validates against the store's limits, so it means such a check
was missed): the batch is split in halves until the change that fails alone
is found, and it is dropped, counted and logged only if it fails again after
the database took a write without it. The rest of the batch commits. A store
that refuses even that write, or a bus that refuses a publication, is beyond
retrying: the writer stops with :class:`~fleetcore.errors.WriterFailed`.
"""

from __future__ import annotations

import asyncio
import functools
import operator
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import asyncpg
from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.models import Model
from tortoise.transactions import in_transaction

from fleetcore import metrics
from fleetcore.backoff import Backoff
from fleetcore.bus.base import Bus
from fleetcore.contract.envelope import Publication, StreamPosition
from fleetcore.contract.rooms import RoomKind, match_room
from fleetcore.errors import FencedOut, NotLeading, WriterFailed
from fleetcore.log import store_logger
from fleetcore.outage import Outage, describe, is_transient
from fleetcore.settings import DEFAULTS
from fleetcore.store import models
from hub.changes import Change, Row
from hub.derive import publish as derived

UPSERT_KEYS: dict[str, tuple[str, ...]] = {
    "RoomState": ("room",),
    "TaskState": ("id",),
    "TaskLabel": ("task_id", "label_name"),
    "MapImage": ("sha256",),
    "Rio": ("id",),
    "SiteSession": ("session",),
    "Media": ("id",),
    **derived.UPSERT_KEYS,
}
"""Models written as upserts, by their conflict key; all others are appended."""
HISTORY_MODELS = frozenset({"RobotPositionSample"})
"""Append-only models committed after the publications of their batch (see above)."""
History = dict[str, list[dict[str, Any]]]
"""One change's history rows (:data:`HISTORY_MODELS`) by model."""
RETRY_INITIAL_S = 0.1
RETRY_MAX_S = 30.0
"""The waits between attempts at a failed commit or publish (:class:`Backoff`)."""


class Writer:
    def __init__(
        self,
        bus: Bus,
        position: StreamPosition,
        *,
        max_rows: int = DEFAULTS.batch_max_rows,
        max_delay: float = DEFAULTS.batch_max_delay_ms / 1000,
        queue_size: int = 10_000,
    ) -> None:
        self._bus = bus
        self._seq = position.seq
        self._epoch = position.epoch
        self._published = position.seq
        self._max_rows = max_rows
        self._max_delay = max_delay
        self._queue: asyncio.Queue[Change] = asyncio.Queue(queue_size)
        self._idle = asyncio.Event()
        self._idle.set()
        self._outages = {
            "commit": Outage(store_logger, "committing a batch"),
            "publish": Outage(store_logger, "publishing a batch"),
        }

    @property
    def position(self) -> StreamPosition:
        return StreamPosition(self._seq, self._epoch)

    async def submit(self, change: Change) -> None:
        """Queue a change; waits (backpressure on the sender) while the queue is full."""
        if not change.publications and not change.rows:
            if change.published is not None and not change.published.done():
                change.published.set_result(None)
            return
        self._idle.clear()
        await self._queue.put(change)

    async def drained(self) -> None:
        """Wait until everything submitted so far is committed and published."""
        await self._idle.wait()

    async def run(self) -> None:
        """Commit and publish batches until cancelled; ends with :class:`FencedOut` once
        superseded, or :class:`WriterFailed`. Whoever waits on a change still in hand or
        queued is told it will not be committed."""
        batch: list[Change] = []
        try:
            await self._run(batch)
        finally:
            _abandon([*batch, *_drain(self._queue)])

    async def _run(self, batch: list[Change]) -> None:
        """The writer's loop; ``batch`` holds the batch in hand, for :meth:`run` to abandon."""
        while True:
            batch[:] = await self._take_batch()
            publications, history = await self._commit(batch)
            try:
                await self._retrying("publish", functools.partial(self._bus.publish, publications))
            except FencedOut:
                raise
            except Exception as exc:
                raise WriterFailed(f"the bus refused a publication: {describe(exc)}") from exc
            if publications:
                self._published = publications[-1].seq
            _published(batch)
            _observe(batch, publications)
            await self._commit_history(history)
            _committed(batch)
            if self._queue.empty():
                self._idle.set()

    async def _commit(self, batch: list[Change]) -> tuple[list[Publication], list[History]]:
        """Commit ``batch``, or every change of it the database takes; returns what to publish
        and the history of what was committed."""
        try:
            return await self._commit_retrying(batch)
        except FencedOut:
            raise
        except Exception:
            if len(batch) == 1:
                return await self._commit_alone(batch[0])
        half = len(batch) // 2
        first, second = await self._commit(batch[:half]), await self._commit(batch[half:])
        return first[0] + second[0], first[1] + second[1]

    async def _commit_alone(self, change: Change) -> tuple[list[Publication], list[History]]:
        """Drop ``change`` if it fails again once the database has taken a write without it."""
        try:
            await self._commit_retrying([])
        except FencedOut:
            raise
        except Exception as exc:
            raise WriterFailed(f"the database refuses every write: {describe(exc)}") from exc
        try:
            return await self._commit_retrying([change])
        except FencedOut:
            raise
        except Exception as exc:
            error = exc
        metrics.WRITE_DROPPED.labels(type(error).__name__).inc()
        rooms = sorted({pub.room[:120] for pub in change.publications})
        store_logger.error(
            "dropped a change the database refused (%s): rooms %s, %d rows",
            describe(error),
            ", ".join(rooms[:5]) or "none",
            len(change.rows),
        )
        return [], []

    async def _commit_retrying(
        self, batch: list[Change]
    ) -> tuple[list[Publication], list[History]]:
        """Number and commit ``batch`` in one transaction, waiting out outages; its history
        is left for :meth:`_commit_history`."""
        numbered: list[Publication] = []
        history: list[History] = []

        async def attempt() -> None:
            publications, rows, changes_history = self._number(batch)
            await self._store(publications, rows)
            numbered[:], history[:] = publications, changes_history

        await self._retrying("commit", attempt)
        if numbered:
            self._seq = numbered[-1].seq
        return numbered, history

    async def _commit_history(self, history: list[History]) -> None:
        """Commit the changes' history in one transaction, waiting out outages, or each
        change's the database takes: a change's history it refuses is dropped, counted and
        logged (its publication went out already)."""
        if not history:
            return
        try:
            await self._retrying("commit", functools.partial(self._store_history, history))
            return
        except FencedOut:
            raise
        except Exception as exc:
            error = exc
        if len(history) > 1:
            half = len(history) // 2
            await self._commit_history(history[:half])
            await self._commit_history(history[half:])
            return
        metrics.WRITE_DROPPED.labels(type(error).__name__).inc()
        store_logger.error(
            "dropped the history of a change the database refused (%s): %s",
            describe(error),
            ", ".join(f"{len(rows)} {model}" for model, rows in history[0].items()),
        )

    async def _take_batch(self) -> list[Change]:
        batch = [await self._queue.get()]
        size = _size(batch[0])
        deadline = time.monotonic() + self._max_delay
        while size < self._max_rows:
            if self._queue.empty():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    change = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                change = self._queue.get_nowait()
            batch.append(change)
            size += _size(change)
        return batch

    async def _retrying(self, what: str, attempt: Callable[[], Awaitable[None]]) -> None:
        """Retry ``attempt`` with backoff while it fails for an outage; raise anything else."""
        outage = self._outages[what]
        backoff = Backoff(RETRY_INITIAL_S, RETRY_MAX_S)
        while True:
            try:
                await attempt()
            except FencedOut:
                raise
            except Exception as exc:
                if not is_transient(exc):
                    raise
                outage.failed(exc)
                await asyncio.sleep(backoff.next())
                continue
            outage.recovered()
            return

    def _number(
        self, batch: list[Change]
    ) -> tuple[list[Publication], dict[str, list[dict[str, Any]]], list[History]]:
        """Give each publication the next seq and stamp rows with the seq they belong to;
        the history rows come apart, by change."""
        seq = self._seq
        publications: list[Publication] = []
        rows: dict[str, list[dict[str, Any]]] = {}
        history: list[History] = []
        for change in batch:
            change_history: History = {}
            first = seq + 1
            for pending in change.publications:
                seq += 1
                publications.append(
                    Publication(
                        pending.room, seq, self._epoch, change.received_ms, pending.data_json
                    )
                )
            for row in change.rows:
                values = row.values
                # A stamped row is a copy: a batch that fails is numbered again, split.
                if row.model in SEQ_STAMPED:
                    values = {**values, "seq": first + row.publication}
                if row.model == "TaskStateHistory":
                    values = {**values, "received_ms": change.received_ms}
                into = change_history if row.model in HISTORY_MODELS else rows
                into.setdefault(row.model, []).append(values)
            if change_history:
                history.append(change_history)
        rows["RoomState"] = [
            _publication_row(pub, key="room")
            for pub in publications
            if match_room(pub.room).kind is RoomKind.STATE
        ]
        rows["Outbox"] = [_publication_row(pub, key="seq") for pub in publications]
        return publications, rows, history

    async def _store(
        self, publications: list[Publication], rows: dict[str, list[dict[str, Any]]]
    ) -> None:
        """One transaction: fencing check, rows, outbox, the new seq, pruning what was published."""
        last = publications[-1].seq if publications else self._seq
        started = time.perf_counter()
        async with in_transaction() as conn:
            sql = _Sql(conn)
            await fence(conn, self._epoch)
            row_count = 0
            for model_name, values in rows.items():
                row_count += await _write(model_name, values, conn)
            await conn.execute_query(
                f"UPDATE hub_meta SET value = {sql.p(1)} WHERE key = 'seq'", [last]
            )
            await conn.execute_query(
                f"DELETE FROM outbox WHERE seq <= {sql.p(1)}", [self._published]
            )
        metrics.STORE_COMMIT.observe(time.perf_counter() - started)
        metrics.WRITE_BATCHES.inc()
        metrics.WRITE_ROWS.inc(row_count)

    async def _store_history(self, history: list[History]) -> None:
        """One transaction: fencing check and the history rows of ``history``'s changes."""
        rows: History = {}
        for change_history in history:
            for model_name, values in change_history.items():
                rows.setdefault(model_name, []).extend(values)
        async with in_transaction() as conn:
            await fence(conn, self._epoch)
            row_count = 0
            for model_name, values in rows.items():
                row_count += await _write(model_name, values, conn)
        metrics.WRITE_ROWS.inc(row_count)


async def fence(conn: BaseDBAsyncClient, epoch: int) -> None:
    """Lock and check the hub's epoch row in a write transaction: a superseded hub writes nothing.

    The lock holds until commit, so a takeover waits for this transaction;
    once a takeover has happened, the row no longer carries ``epoch`` and the
    transaction raises :class:`FencedOut` before it wrote anything. Every
    transaction that writes for the hub (a batch, a command record) starts here.
    """
    sql = _Sql(conn)
    ours, _ = await conn.execute_query(
        f"UPDATE hub_meta SET value = {sql.p(1)} WHERE key = 'epoch' AND value = {sql.p(2)}",
        [epoch, epoch],
    )
    if ours != 1:
        raise FencedOut(f"epoch {epoch} was superseded by another hub")


SEQ_STAMPED = (
    frozenset({"TaskState", "TaskStateHistory", "TaskLogEntry", "FleetLogEntry", "Rio", "Media"})
    | derived.SEQ_STAMPED
)
"""Models whose rows carry the seq of the publication that wrote them."""


def _publication_row(pub: Publication, *, key: str) -> dict[str, Any]:
    """A ``room_state`` row (``key`` "room"), live again if it was retired, or an ``outbox`` row."""
    return {
        key: pub.room if key == "room" else pub.seq,
        **({"seq": pub.seq, "retired": False} if key == "room" else {"room": pub.room}),
        "epoch": pub.epoch,
        "received_ms": pub.received_ms,
        "data": pub.data_json.decode(),
    }


def _observe(batch: list[Change], publications: list[Publication]) -> None:
    now = time.monotonic()
    for change in batch:
        if change.received_at:
            metrics.INGEST_TO_PUBLISH.observe(now - change.received_at)
    for pub in publications:
        metrics.PUBLICATIONS.labels(match_room(pub.room).kind.value).inc()


def _committed(batch: list[Change]) -> None:
    """Settle each change's ``committed``: it is durable, or was dropped as one the database
    refuses (logged and counted), which a sender must not send again either."""
    for change in batch:
        if change.committed is not None and not change.committed.done():
            change.committed.set_result(None)


def _published(batch: list[Change]) -> None:
    for change in batch:
        if change.published is not None and not change.published.done():
            change.published.set_result(None)


def _abandon(changes: list[Change]) -> None:
    """Tell whoever waits on a change that the writer stopped before committing or publishing it.

    ``committed`` is cancelled (an acknowledged site sends the frame again to the next
    leader); ``published`` fails with :class:`NotLeading`, since it is awaited by a task
    that must not mistake it for its own cancellation.
    """
    for change in changes:
        if change.committed is not None:
            change.committed.cancel()
        if change.published is not None and not change.published.done():
            change.published.set_exception(NotLeading("the hub stopped writing before publishing"))


def _drain(queue: asyncio.Queue[Change]) -> list[Change]:
    changes = []
    while not queue.empty():
        changes.append(queue.get_nowait())
    return changes


def _size(change: Change) -> int:
    return len(change.publications) + len(change.rows)


async def _write(model_name: str, values: list[dict[str, Any]], conn: Any) -> int:
    if not values:
        return 0
    model = getattr(models, model_name)
    keys = UPSERT_KEYS.get(model_name)
    if keys is None:
        columns = _PLAIN_COLUMNS.get(model_name)
        if columns is None or any(v.keys() != _PLAIN_COLUMN_SETS[model_name] for v in values):
            # Rows that leave a column to its default go through the ORM, which applies it.
            await model.bulk_create([model(**v) for v in values], using_db=conn)
        else:
            await _append(conn, model, columns, list(map(operator.itemgetter(*columns), values)))
        return len(values)
    latest = _last_per_key(values, keys)
    update_fields = [name for name in latest[0] if name not in keys]
    await model.bulk_create(
        [model(**v) for v in latest],
        on_conflict=list(keys),
        update_fields=update_fields or None,
        ignore_conflicts=not update_fields,
        using_db=conn,
    )
    return len(latest)


async def _append(
    conn: Any, model: type[Model], columns: tuple[str, ...], records: list[tuple[Any, ...]]
) -> None:
    """Append rows by one statement: COPY on PostgreSQL, one executemany on SQLite.

    A burst of 100 fleets brings 5,000 robot position samples at once: as INSERTs
    they held the batch's commit 42 ms and took 9 ms of the hub's CPU, by COPY
    22 ms and 5 ms. Both send the values through the same binary encoders. A row
    the database refuses raises what the ORM raises for it (tortoise's
    ``IntegrityError`` or ``OperationalError``), as the dropped-change counter names it.
    """
    if conn.capabilities.dialect != "postgres":
        await conn.execute_many(_Sql(conn).insert(model, columns), records)
        return
    try:
        async with conn.acquire_connection() as connection:
            await connection.copy_records_to_table(
                model._meta.db_table, records=records, columns=columns
            )
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise IntegrityError(exc) from exc
    except (asyncpg.SyntaxOrAccessError, asyncpg.exceptions.DataError) as exc:
        raise OperationalError(exc) from exc


class _Sql:
    """Placeholders in the connection's dialect, for the statements the writer runs every batch.

    The writer's own statements skip the ORM's query building and a model object
    per appended row: at thousands of rows a second those were most of a batch's time.
    """

    def __init__(self, conn: Any) -> None:
        self._postgres = conn.capabilities.dialect == "postgres"

    def p(self, n: int) -> str:
        return f"${n}" if self._postgres else "?"

    def insert(self, model: type[Model], columns: tuple[str, ...]) -> str:
        names = ", ".join(columns)
        params = ", ".join(self.p(i + 1) for i in range(len(columns)))
        return f"INSERT INTO {model._meta.db_table} ({names}) VALUES ({params})"


_PLAIN_FIELDS = (
    fields.CharField,
    fields.TextField,
    fields.BigIntField,
    fields.IntField,
    fields.FloatField,
)


def _plain_columns(model: type[Model]) -> tuple[str, ...] | None:
    """The columns of an append-only model whose values go to the driver as they are, or None
    (also for fewer than two columns, which an ``itemgetter`` would not take as a tuple)."""
    meta = model._meta
    columns = []
    for name, column in meta.fields_db_projection.items():
        field = meta.fields_map[name]
        if field.generated:
            continue
        if type(field) not in _PLAIN_FIELDS or name != column:
            return None
        columns.append(name)
    return tuple(columns) if len(columns) > 1 else None


_PLAIN_COLUMNS: dict[str, tuple[str, ...]] = {
    name: columns
    for name in dir(models)
    if isinstance(getattr(models, name), type)
    and issubclass(getattr(models, name), Model)
    and getattr(models, name) is not Model
    and (columns := _plain_columns(getattr(models, name))) is not None
}
"""Append-only models written by one executemany of their rows' values, without the ORM."""
_PLAIN_COLUMN_SETS = {name: frozenset(columns) for name, columns in _PLAIN_COLUMNS.items()}


def _last_per_key(values: Iterable[dict[str, Any]], keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per conflict key (the last): an upsert may not touch a row twice."""
    return list({tuple(v[k] for k in keys): v for v in values}.values())


__all__ = ["Row", "Writer", "fence"]
