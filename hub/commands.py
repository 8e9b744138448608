"""The command executor: what clients ask RMF to do, acted on once per idempotency key.

While its hub leads, the executor consumes the command channel, a batch
at a time. For each batch, one transaction checks the hub's epoch (the
writer's :func:`~hub.writer.fence`) and inserts a
:class:`~fleetcore.store.models.CommandRecord` for every key not recorded
yet. Only a newly recorded command is sent to RMF, so a client's retry, a
redelivery by the channel or a replay after a hub crash acts at most once:
for a known key the stored outcome is replied, and a command still pending
stays with whatever RMF answers.

RMF's answer carries the request_id derived from the key. The first answer
completes the record (done or failed, its JSON stored), is replied on the
channel and published in the command's room (``/commands/{key}``); a
repeated, late or unknown answer changes nothing and is counted. Answers
are queued and completed in batches too, one transaction each, and a
dispatch RMF accepted also stores the task's request (``GET
/tasks/{id}/request``) in that transaction. Batching is what lets one hub
keep up with hundreds of commands a second: a transaction that fences
costs a commit, however many commands it records.

A command an earlier hub recorded but saw no answer for (it died) is never
sent again: :mod:`hub.reconcile` looks for its effect in the state RMF
reports and completes it from there, or marks its outcome unknown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from fleetcore import metrics
from fleetcore.aio import cancel_and_wait
from fleetcore.bus.commands_base import CommandChannel
from fleetcore.contract.commands import (
    HUB_KINDS,
    TASK_CREATING_KINDS,
    Command,
    CommandKind,
    CommandReply,
    CommandStatus,
    request_id_for,
)
from fleetcore.contract.ingest import CommandResponse
from fleetcore.contract.rmf.task import task_id_problem
from fleetcore.contract.rooms import COMMAND, DELIVERY_ALERTS
from fleetcore.errors import FencedOut
from fleetcore.log import hub_logger
from fleetcore.outage import Outage
from fleetcore.settings import DEFAULTS
from fleetcore.store import models
from hub.changes import Change, PendingPublication, hub_command_change
from hub.reconcile import RECONCILE_POLL_S, effect_in_rmf, unknown_outcome
from hub.rmf_gateway import RmfGateway, RmfUnreachable, SiteGateway
from hub.service import Hub, wall_clock_ms
from hub.writer import fence


class CommandExecutor:
    """One leadership term of command handling; start when the hub leads, stop when it steps down.

    :param channel: makes the term's command channel (a standby must not
        hold commands, so each term consumes on a channel of its own).
    :param reconcile_s: how long RMF's state is watched for the effect of a
        command an earlier hub left pending (sites need to reconnect and report first).
    """

    def __init__(
        self,
        hub: Hub,
        channel: Callable[[], CommandChannel],
        gateway: SiteGateway,
        *,
        rmf: RmfGateway | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        reconcile_s: float = DEFAULTS.command_site_wait_s,
    ) -> None:
        self._hub = hub
        self._make_channel = channel
        self._sites = gateway
        self._rmf: RmfGateway = rmf or gateway
        self._clock_ms = clock_ms
        self._channel: CommandChannel | None = None
        self._reconcile_s = reconcile_s
        self._answers: asyncio.Queue[Answer] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        channel = self._make_channel()
        await channel.start()
        self._channel = channel
        self._answers = asyncio.Queue()
        self._sites.on_response(self._on_response)
        channel.consume(self.handle)
        self._tasks = [
            asyncio.create_task(self._complete_answers(), name="commands-complete"),
            asyncio.create_task(self._reconcile(), name="commands-reconcile"),
        ]

    async def stop(self) -> None:
        """Stop taking answers, complete those already taken, then stop."""
        self._sites.on_response(None)
        if not self._answers.empty() and self._tasks and not self._tasks[0].done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answers.join(), STOP_DRAIN_S)
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        left = []
        while not self._answers.empty():
            left.append(self._answers.get_nowait())
        _settle(left, stored=False)
        if self._channel is not None:
            await self._channel.aclose()
            self._channel = None

    @property
    def _replies(self) -> CommandChannel:
        if self._channel is None:
            raise RuntimeError("the command executor is not started")
        return self._channel

    async def handle(self, commands: list[Command]) -> None:
        """Record, then act; a key recorded before is answered from its record instead.

        The command channel calls this for each batch; the scheduler for each occurrence.
        """
        fresh, known = await self._record(commands)
        for record in known:
            metrics.COMMAND_REPEATS.inc()
            # A pending command is answered by RMF's response; replying "pending" here
            # could overwrite that answer on the channel.
            if record.status != CommandStatus.PENDING:
                await self._replies.reply(_reply_of(record))
        for record in fresh:
            metrics.COMMANDS.labels(record.kind).inc()
        answers = await asyncio.gather(*(self._send(record) for record in fresh))
        await self._complete([answer for answer in answers if answer is not None])

    async def _send(self, record: models.CommandRecord) -> Answer | None:
        """Send to RMF; the answer to complete the command with at once, if there is one.

        That is a failure when it surely was not sent, and the outcome of a
        command the hub performs itself (:data:`HUB_KINDS`): its change is
        committed and published before the command is done.
        """
        if record.kind in HUB_KINDS:
            body = orjson.loads(record.body)
            existed = record.kind == CommandKind.PUT_RIO and await models.Rio.exists(
                id=str(body.get("id"))
            )
            change = hub_command_change(record.kind, body, self._clock_ms())
            change.published = asyncio.get_running_loop().create_future()
            await self._hub.writer.submit(change)
            await change.published
            outcome = {"success": True, "created": not existed}
            return Answer(record.request_id, CommandStatus.DONE, outcome)
        try:
            await self._rmf.send(record)
        except RmfUnreachable as exc:
            hub_logger.warning("command %s not sent: %s", record.key, exc)
            failure = {"success": False, "errors": [{"code": 503, "detail": str(exc)}]}
            return Answer(record.request_id, CommandStatus.FAILED, failure)
        return None

    async def _record(
        self, commands: list[Command]
    ) -> tuple[list[models.CommandRecord], list[models.CommandRecord]]:
        """Insert the keys not recorded yet: (the new records, the records of repeated keys)."""
        now = self._clock_ms()
        epoch = self._hub.position.epoch
        async with in_transaction() as conn:
            await fence(conn, epoch)
            keys = list(dict.fromkeys(command.key for command in commands))
            records = {
                r.key: r for r in await models.CommandRecord.filter(key__in=keys).using_db(conn)
            }
            fresh: list[models.CommandRecord] = []
            known: list[models.CommandRecord] = []
            for command in commands:
                # A key repeated within the batch finds the record its first command made.
                if command.key in records:
                    known.append(records[command.key])
                    continue
                record = models.CommandRecord(
                    key=command.key,
                    kind=command.kind,
                    body=orjson.dumps(command.body).decode(),
                    requester=command.requester,
                    status=CommandStatus.PENDING.value,
                    request_id=request_id_for(command.key),
                    epoch=epoch,
                    created_ms=now,
                    updated_ms=now,
                )
                records[command.key] = record
                fresh.append(record)
            if fresh:
                await models.CommandRecord.bulk_create(fresh, using_db=conn)
        return fresh, known

    async def _on_response(
        self, response: CommandResponse, recorded: asyncio.Future[None] | None = None
    ) -> None:
        """RMF answered: queued, completed with the answers that came meanwhile.

        ``recorded`` is settled once the answer is stored (or found to change
        nothing), and cancelled if it was not: the site acknowledges on it.
        """
        outcome = response.model_dump(mode="json", exclude={"request_id"})
        status = CommandStatus.DONE if response.success else CommandStatus.FAILED
        self._answers.put_nowait(Answer(response.request_id, status, outcome, recorded))

    async def _complete_answers(self) -> None:
        outage = Outage(hub_logger, "completing commands")
        while True:
            batch = [await self._answers.get()]
            while len(batch) < ANSWER_BATCH and not self._answers.empty():
                batch.append(self._answers.get_nowait())
            try:
                await self._complete(batch)
                outage.recovered()
            except FencedOut:
                metrics.COMMAND_RESPONSES_IGNORED.labels("fenced").inc(len(batch))
                hub_logger.warning("a superseded hub ignored %d answers", len(batch))
            except Exception as exc:
                # Left pending: reconciliation finds their effect in RMF's state later.
                outage.failed(exc)
            finally:
                _settle(batch, stored=False)
                for _ in batch:
                    self._answers.task_done()

    async def _reconcile(self) -> None:
        """Finish or report what earlier terms left pending, watching RMF's state for a while."""
        epoch = self._hub.position.epoch
        left = await models.CommandRecord.filter(
            status=CommandStatus.PENDING.value, epoch__lt=epoch
        ).order_by("created_ms")
        if not left:
            return
        hub_logger.info("%d commands of earlier terms have no outcome: reconciling", len(left))
        deadline = asyncio.get_running_loop().time() + self._reconcile_s
        while left:
            found: list[Answer] = []
            still = []
            for record in left:
                effect = await effect_in_rmf(record)
                if effect is None:
                    still.append(record)
                else:
                    found.append(Answer(record.request_id, CommandStatus.DONE, effect))
            metrics.COMMANDS_RECONCILED.labels("done").inc(len(found))
            await self._complete(found)
            left = still
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(RECONCILE_POLL_S)
        metrics.COMMANDS_RECONCILED.labels("unknown").inc(len(left))
        await self._complete(
            [Answer(r.request_id, CommandStatus.UNKNOWN, unknown_outcome(r)) for r in left]
        )

    async def _complete(self, answers: list[Answer]) -> None:
        """Store each answer that is the first for an open command, then reply and publish it.

        Open is pending, or unknown: RMF's own answer, however late, beats "unknown".
        """
        if not answers:
            return
        now = self._clock_ms()
        completed: list[tuple[models.CommandRecord, Answer]] = []
        async with in_transaction() as conn:
            await fence(conn, self._hub.position.epoch)
            request_ids = list({answer.request_id for answer in answers})
            records = {
                r.request_id: r
                for r in await models.CommandRecord.filter(request_id__in=request_ids).using_db(
                    conn
                )
            }
            for answer in answers:
                record = records.get(answer.request_id)
                if record is None or record.status not in _OPEN:
                    _ignore(record, answer.outcome)
                    continue
                record.status = answer.status.value
                record.response = orjson.dumps(answer.outcome).decode()
                record.updated_ms = now
                await record.save(using_db=conn, update_fields=["status", "response", "updated_ms"])
                completed.append((record, answer))
            await _keep_task_requests(completed, conn)
        _settle(answers, stored=True)
        for record, answer in completed:
            metrics.COMMAND_LATENCY.observe(max(0, record.updated_ms - record.created_ms) / 1000)
            await self._replies.reply(CommandReply(record.key, answer.status, answer.outcome))
        rooms = [
            PendingPublication(COMMAND.format(key=record.key), orjson.dumps(record.outcome()))
            for record, _ in completed
        ]
        rooms += [
            # rmf-web tells every dashboard of a delivery alert's response on the alerts' room.
            PendingPublication(DELIVERY_ALERTS.pattern, record.body.encode())
            for record, answer in completed
            if record.kind == CommandKind.DELIVERY_ALERT_RESPONSE
            and answer.status is CommandStatus.DONE
        ]
        await self._hub.writer.submit(Change(rooms, received_ms=now))


ANSWER_BATCH = 200
"""Most answers completed in one transaction."""
STOP_DRAIN_S = 2.0
"""How long stopping waits for answers already taken to be completed."""
_OPEN = frozenset({CommandStatus.PENDING.value, CommandStatus.UNKNOWN.value})


@dataclass(frozen=True, slots=True)
class Answer:
    """What completes a command: RMF's answer, a failure to send it, or "unknown"."""

    request_id: str
    status: CommandStatus
    outcome: dict[str, Any]
    recorded: asyncio.Future[None] | None = None
    """Settled once this answer is stored, cancelled if it was not (an answer a site sent)."""


def _settle(answers: list[Answer], *, stored: bool) -> None:
    """Tell the sites' links whether each answer is recorded (an answer not recorded by now never is)."""
    for answer in answers:
        if answer.recorded is None or answer.recorded.done():
            continue
        if stored:
            answer.recorded.set_result(None)
        else:
            answer.recorded.cancel()


async def _keep_task_requests(
    completed: list[tuple[models.CommandRecord, Answer]], conn: BaseDBAsyncClient
) -> None:
    """The requests tasks were created from, kept by task id (rmf-web's saved task requests)."""
    kept: dict[str, models.TaskRequest] = {}
    for record, answer in completed:
        if answer.status is not CommandStatus.DONE or record.kind not in TASK_CREATING_KINDS:
            continue
        task_id = (answer.outcome.get("state") or {}).get("booking", {}).get("id")
        request = orjson.loads(record.body).get("request")
        if not isinstance(task_id, str) or not task_id or task_id_problem(task_id):
            continue  # RMF's answer (kept as it came) names no task id that fits its rows
        if isinstance(request, dict):
            kept[task_id] = models.TaskRequest(
                task_id=task_id, request=orjson.dumps(request).decode(), command_key=record.key
            )
    if kept:
        await models.TaskRequest.bulk_create(
            list(kept.values()), ignore_conflicts=True, using_db=conn
        )


def _ignore(record: models.CommandRecord | None, outcome: dict[str, Any]) -> None:
    """Count an answer that completes nothing: duplicate (same as stored), late or unknown."""
    if record is None:
        reason = "unknown"
    elif record.response is not None and orjson.loads(record.response) == outcome:
        reason = "duplicate"
    else:
        reason = "late"
    metrics.COMMAND_RESPONSES_IGNORED.labels(reason).inc()
    hub_logger.info("ignored a %s answer for %s", reason, record.key if record else "no command")


def _reply_of(record: models.CommandRecord) -> CommandReply:
    response = orjson.loads(record.response) if record.response else {}
    return CommandReply(record.key, CommandStatus(record.status), response)
