"""Log entries from the database, in the RMF ``log_entry`` shape."""

from __future__ import annotations

from typing import Any

LOG_COLUMNS = ("log_seq", "tier", "unix_millis_time", "text")


def log_entry(row: dict[str, Any]) -> dict[str, Any]:
    """A stored row as RMF's log entry; ``seq`` is the adapter's, not the hub's."""
    return {
        "seq": row["log_seq"],
        "tier": row["tier"],
        "unix_millis_time": row["unix_millis_time"],
        "text": row["text"],
    }
