"""How large what becomes a database column may be, in the units the store uses.

Each width here is the one home of its limit: the store's columns are
declared with it (:mod:`fleetcore.store.models`) and every way in (ingest,
REST, socket.io) checks a value against it before anything is queued, so no
valid input can fail the writer. Room names have their own limit, in
:mod:`fleetcore.contract.rooms`.

Widths are counted in UTF-8 bytes. A PostgreSQL ``varchar(n)`` holds ``n``
characters, so a value of at most ``n`` bytes fits whatever its characters,
and its index entry stays far below PostgreSQL's 2,704-byte btree limit.
PostgreSQL text cannot hold U+0000 at all, and a lone surrogate cannot be
encoded for any driver, so no column value may carry either.
"""

from __future__ import annotations

NAME_BYTES = 256
"""A name or id: a fleet, robot, task, map, alert; its columns are this wide."""
TEXT_BYTES = 1024
"""A longer column value: a task's requester, a booking label's value."""
LABEL_NAME_BYTES = 512
"""The name of a booking label (the part before ``=``)."""
LOG_SCOPE_BYTES = 64
"""The phase or event id a task log entry belongs to."""
CONTENT_TYPE_BYTES = 128
"""The content type of a building-map image."""
CONDITION_BYTES = 512
"""The condition a derived alert stands for (e.g. ``robot_offline/fleet/robot``)."""
COMMAND_KEY_BYTES = 128
"""A command's idempotency key."""


def utf8_size(value: str) -> int | None:
    """``value``'s size in UTF-8, or None when it has no UTF-8 form (a lone surrogate)."""
    try:
        return len(value.encode())
    except UnicodeEncodeError:
        return None


def column_problem(value: str, max_bytes: int | None) -> str | None:
    """Why ``value`` cannot be stored in a column ``max_bytes`` wide (None: text), or None."""
    if "\x00" in value:
        return "contains U+0000, which the database cannot store"
    # ASCII (almost every name) is one byte a character: no need to encode it to count.
    size = len(value) if value.isascii() else utf8_size(value)
    if size is None:
        return "not valid Unicode (a lone surrogate)"
    if max_bytes is not None and size > max_bytes:
        return f"{size} bytes in UTF-8, over the {max_bytes}-byte limit"
    return None
