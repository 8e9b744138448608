"""Merging what a (re)subscribing client (socket.io or GraphQL) must get first with what arrived meanwhile.

While the proxy reads the sticky value or the history of a room, live
publications of that room keep arriving; they are buffered and merged here,
oldest first, without duplicates and without anything at or before ``since``.
"""

from __future__ import annotations

from collections.abc import Iterable

from fleetcore.contract.envelope import Publication


def merge(
    initial: Iterable[Publication], buffered: Iterable[Publication], since: int
) -> list[Publication]:
    by_seq = {pub.seq: pub for pub in (*initial, *buffered) if pub.seq > since}
    return [by_seq[seq] for seq in sorted(by_seq)]


def latest(publications: Iterable[Publication], since: int) -> list[Publication]:
    """For a state room only the newest value matters: the rest would be skipped anyway."""
    newest: Publication | None = None
    for pub in publications:
        if pub.seq > since and (newest is None or pub.seq > newest.seq):
            newest = pub
    return [newest] if newest is not None else []
