"""Acknowledged ingest on the hub: which numbered frames of each site session are durable.

The protocol is in :mod:`fleetcore.contract.site_link`. Per leadership
term, each session a site opened with a ``hello`` has a :class:`SessionLedger`
of the numbered frames this hub took from it, in order, each with what makes
it durable: the writer's commit of its rows (:attr:`hub.changes.Change.committed`),
the command executor's record of a command's answer, or nothing (a refused
frame, a duplicate). The ack the site is sent is the highest number up to
which every frame taken is durable, so it never runs ahead of a frame still
on its way, whatever order the writer and the executor finish in.

Duplicates: a site sends again every frame not acked after a reconnect, so
the hub must know what it committed already, even across a failover. The
number of the last frame committed is written with that frame's rows (table
``site_session``); a term starts from there, and within a term
:attr:`SessionLedger.accepted` also covers frames still queued. A frame at or
below it is dropped, except a command's answer: the executor takes it again
(it ignores an answer it recorded already), since an answer taken but not
yet recorded is not covered by the committed number.

A frame that cannot become durable (the writer stopped, the hub stepped
down) fails the ledger: its connection is closed, the site reconnects and
sends again what was not acked, and the session starts afresh from the
database once everything taken has settled.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Protocol

from fleetcore.store import models


class LedgerHolder(Protocol):
    """The connection that holds a session: woken whenever its ledger changes."""

    def wake(self) -> None: ...


class SessionLedger:
    """The numbered frames of one site session taken in this term, and how far they are acked."""

    def __init__(self, session: str, committed: int) -> None:
        self.session = session
        self.accepted = committed
        """The highest number taken (or committed before this term): a frame up to it is a duplicate."""
        self.acked = 0
        """Every frame taken with a number up to this is durable."""
        self.failed = False
        """A frame taken can no longer become durable."""
        self.holder: LedgerHolder | None = None
        self._taken: deque[tuple[int, asyncio.Future[None] | None]] = deque()
        self._unsettled = 0
        self._settled = asyncio.Event()
        self._settled.set()

    def hold(self, holder: LedgerHolder) -> LedgerHolder | None:
        """Make ``holder`` the session's connection; the one it replaces, woken to close."""
        previous, self.holder = self.holder, holder
        if previous is not None:
            previous.wake()
        return previous

    def release(self, holder: LedgerHolder) -> None:
        if self.holder is holder:
            self.holder = None

    @property
    def idle(self) -> bool:
        """No connection holds it and nothing taken is on its way: the database knows it all."""
        return self.holder is None and not self._taken and self._unsettled == 0

    def take(self, number: int, *, idempotent: bool = False) -> asyncio.Future[None] | None:
        """Take frame ``number``: the future to settle once it is durable (cancel it if it never
        will be), or None for a duplicate, which needs nothing more.

        ``idempotent`` frames (a command's answer) are taken again even at or below ``accepted``.
        """
        if number <= self.accepted and not idempotent:
            self._taken.append((number, None))
            self._advance()
            return None
        self.accepted = max(self.accepted, number)
        durable: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._unsettled += 1
        self._settled.clear()
        durable.add_done_callback(self._on_settled)
        self._taken.append((number, durable))
        return durable

    async def settled(self) -> None:
        """Until every frame taken is durable or has failed."""
        await self._settled.wait()

    def _on_settled(self, durable: asyncio.Future[None]) -> None:
        self._unsettled -= 1
        if self._unsettled == 0:
            self._settled.set()
        if durable.cancelled() or durable.exception() is not None:
            self.failed = True
            if self.holder is not None:
                self.holder.wake()
        self._advance()

    def _advance(self) -> None:
        before = self.acked
        while self._taken and not self.failed:
            number, durable = self._taken[0]
            if durable is not None and not durable.done():
                break
            self.acked = max(self.acked, number)
            self._taken.popleft()
        if self.acked != before and self.holder is not None:
            self.holder.wake()


class SiteSessions:
    """The ledgers of this hub's current leadership term, by session.

    :param term: the hub's current epoch; ledgers of an earlier term are dropped.
    """

    def __init__(self, term: Callable[[], int]) -> None:
        self._term = term
        self._epoch: int | None = None
        self._ledgers: dict[str, SessionLedger] = {}
        self._lock = asyncio.Lock()

    async def join(self, session: str, holder: LedgerHolder) -> SessionLedger:
        """The session's ledger, now held by ``holder`` (a connection it held before is woken).

        A failed ledger is first left to settle, then the session starts afresh from the database.
        """
        while True:
            async with self._lock:
                epoch = self._term()
                if epoch != self._epoch:
                    self._epoch, self._ledgers = epoch, {}
                for name in [name for name, known in self._ledgers.items() if known.idle]:
                    del self._ledgers[name]
                ledger = self._ledgers.get(session)
                if ledger is None or not ledger.failed:
                    if ledger is None:
                        row = await models.SiteSession.get_or_none(session=session)
                        ledger = SessionLedger(session, row.frame if row is not None else 0)
                        self._ledgers[session] = ledger
                    ledger.hold(holder)
                    return ledger
            ledger.hold(holder)
            await ledger.settled()
            ledger.release(holder)
            async with self._lock:
                if self._ledgers.get(session) is ledger:
                    del self._ledgers[session]
