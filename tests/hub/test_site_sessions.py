"""A site session's ledger: acks never run ahead of a frame on its way, duplicates need nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from fleetcore.settings import Settings
from fleetcore.store import models
from fleetcore.store.db import close_database, open_database
from hub.site_sessions import SessionLedger, SiteSessions


class Holder:
    """A connection holding a session, as the ingest handler's is: counts how often it is woken."""

    def __init__(self) -> None:
        self.woken = 0

    def wake(self) -> None:
        self.woken += 1


def taken(ledger: SessionLedger, number: int, *, idempotent: bool = False) -> asyncio.Future[None]:
    durable = ledger.take(number, idempotent=idempotent)
    assert durable is not None, f"frame {number} was taken as a duplicate"
    return durable


async def test_the_ack_waits_for_an_earlier_frame_that_is_durable_later() -> None:
    ledger = SessionLedger("s", committed=0)
    first, second = taken(ledger, 1), taken(ledger, 2)
    second.set_result(None)
    await asyncio.sleep(0)
    assert ledger.acked == 0
    first.set_result(None)
    await asyncio.sleep(0)
    assert ledger.acked == 2


async def test_a_refused_frame_is_acked_once_the_frames_before_it_are_durable() -> None:
    ledger = SessionLedger("s", committed=0)
    stored = taken(ledger, 1)
    taken(ledger, 2).set_result(None)
    await asyncio.sleep(0)
    assert ledger.acked == 0
    stored.set_result(None)
    await asyncio.sleep(0)
    assert ledger.acked == 2


async def test_a_frame_at_or_below_the_committed_number_is_a_duplicate() -> None:
    ledger = SessionLedger("s", committed=5)
    assert ledger.take(4) is None
    assert ledger.take(5) is None
    assert ledger.acked == 5
    assert ledger.take(6) is not None


async def test_a_duplicate_of_a_frame_still_on_its_way_waits_for_it() -> None:
    ledger = SessionLedger("s", committed=0)
    original = taken(ledger, 1)
    assert ledger.take(1) is None
    assert ledger.acked == 0
    original.set_result(None)
    await asyncio.sleep(0)
    assert ledger.acked == 1


async def test_a_command_answer_is_taken_again_even_below_the_committed_number() -> None:
    ledger = SessionLedger("s", committed=5)
    again = ledger.take(3, idempotent=True)
    assert again is not None
    assert ledger.acked == 0
    again.set_result(None)
    await asyncio.sleep(0)
    assert ledger.acked == 3


async def test_a_frame_that_cannot_become_durable_fails_the_ledger_and_stops_its_acks() -> None:
    ledger = SessionLedger("s", committed=0)
    holder = Holder()
    ledger.hold(holder)
    lost, later = taken(ledger, 1), taken(ledger, 2)
    lost.cancel()
    later.set_result(None)
    await asyncio.sleep(0)
    assert ledger.failed and ledger.acked == 0
    assert holder.woken >= 1
    await asyncio.wait_for(ledger.settled(), 1)


async def test_its_holder_is_woken_as_acks_advance_and_when_replaced() -> None:
    ledger = SessionLedger("s", committed=0)
    first, second = Holder(), Holder()
    ledger.hold(first)
    taken(ledger, 1).set_result(None)
    await asyncio.sleep(0)
    assert first.woken == 1
    assert ledger.hold(second) is first
    assert first.woken == 2 and ledger.holder is second


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[None]:
    await open_database(settings.resolved_database_url, apply_migrations=True)
    try:
        yield
    finally:
        await close_database()


async def test_a_session_starts_from_the_number_committed_in_the_database(database: None) -> None:
    await models.SiteSession.create(session="known", frame=41, updated_ms=1)
    sessions = SiteSessions(lambda: 1)
    known = await sessions.join("known", Holder())
    assert (known.accepted, known.acked) == (41, 0)
    assert (await sessions.join("new", Holder())).accepted == 0


async def test_a_new_term_forgets_the_frames_the_last_one_took(database: None) -> None:
    term = 1
    sessions = SiteSessions(lambda: term)
    ledger = await sessions.join("s", Holder())
    taken(ledger, 7)
    term = 2
    assert (await sessions.join("s", Holder())).accepted == 0


async def test_a_failed_session_starts_afresh_from_the_database_once_settled(
    database: None,
) -> None:
    sessions = SiteSessions(lambda: 1)
    failed = await sessions.join("s", Holder())
    stored, lost = taken(failed, 1), taken(failed, 2)
    lost.cancel()
    await asyncio.sleep(0)
    assert failed.failed
    joining = asyncio.create_task(sessions.join("s", Holder()))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not joining.done(), "frame 1 is still on its way"
    await models.SiteSession.create(session="s", frame=1, updated_ms=1)
    stored.set_result(None)
    fresh = await asyncio.wait_for(joining, 1)
    assert fresh is not failed and fresh.accepted == 1
