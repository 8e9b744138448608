"""What the master control must remember across its own crash: a small local journal.

The hub stores every durable fact the master control reports (task states
and logs, fleet states and logs). What the hub cannot know is what the
master control told the vehicles: which order (``orderId``) a task runs as,
which ``orderUpdateId`` was sent last and how far it released the route,
the ``headerId`` counters, and the answers to the hub's commands. Those are
written here *before* the message goes out (write-ahead), so after a SIGKILL
the master control continues a running order with the next
``orderUpdateId`` instead of sending a new one, and never sends a
``headerId`` twice. It also keeps what each robot holds in traffic control
while it is not running an order (:mod:`vda5050.recovery`), which a vehicle
that vanished cannot report again, and which robots operators took out of
service (their commission): the hub's record of a command is not read back.

SQLite in WAL mode with ``synchronous=NORMAL``: a committed write survives a
crash of the process (not of the machine's power, which the vehicles' own
reported state then covers: they say which ``orderUpdateId`` they hold).
Writes are a few hundred bytes and take well under a millisecond, so they
run on the event loop.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    active INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    doc BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_finished ON tasks (active, updated_ms);
CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS answers (
    request_id TEXT PRIMARY KEY,
    answered_ms INTEGER NOT NULL,
    frame BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS commissions (robot TEXT PRIMARY KEY, doc BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS holdings (robot TEXT PRIMARY KEY, doc BLOB NOT NULL);
"""


class Journal:
    """Tasks (as their JSON documents), counter reservations and command answers."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    def tasks(self, *, finished_kept: int) -> list[bytes]:
        """Every unfinished task and the ``finished_kept`` most recently finished ones, oldest first."""
        rows = self._db.execute(
            "SELECT doc FROM ("
            " SELECT doc, updated_ms FROM tasks WHERE active = 1"
            " UNION ALL SELECT * FROM ("
            "  SELECT doc, updated_ms FROM tasks WHERE active = 0 ORDER BY updated_ms DESC LIMIT ?"
            " )"
            ") ORDER BY updated_ms",
            (finished_kept,),
        )
        return [bytes(row[0]) for row in rows]

    def save_task(self, task_id: str, doc: bytes, *, active: bool) -> None:
        self._db.execute(
            "INSERT INTO tasks (id, active, updated_ms, doc) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET active = excluded.active, "
            "updated_ms = excluded.updated_ms, doc = excluded.doc",
            (task_id, int(active), _now_ms(), doc),
        )

    def prune_finished(self, keep: int) -> None:
        """Forget all but the ``keep`` most recently finished tasks."""
        self._db.execute(
            "DELETE FROM tasks WHERE active = 0 AND id NOT IN ("
            " SELECT id FROM tasks WHERE active = 0 ORDER BY updated_ms DESC LIMIT ?)",
            (keep,),
        )

    def reserve(self, key: str, block: int) -> int:
        """The first value of a fresh block of ``block`` values of counter ``key``.

        Values handed out from a block are never handed out again, even if the
        process dies before using them all (the next start reserves the next block).
        """
        row = self._db.execute(
            "INSERT INTO counters (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = value + ? RETURNING value",
            (key, block, block),
        ).fetchone()
        return int(row[0]) - block

    def save_answer(self, request_id: str, frame: bytes) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO answers (request_id, answered_ms, frame) VALUES (?, ?, ?)",
            (request_id, _now_ms(), frame),
        )

    def answer(self, request_id: str) -> bytes | None:
        row = self._db.execute(
            "SELECT frame FROM answers WHERE request_id = ?", (request_id,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def recent_answers(self, since_ms: int) -> list[bytes]:
        rows = self._db.execute(
            "SELECT frame FROM answers WHERE answered_ms >= ? ORDER BY answered_ms", (since_ms,)
        )
        return [bytes(row[0]) for row in rows]

    def save_commission(self, robot: str, doc: bytes) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO commissions (robot, doc) VALUES (?, ?)", (robot, doc)
        )

    def commissions(self) -> dict[str, bytes]:
        """Each robot's commission an operator set, by ``fleet/robot``."""
        rows = self._db.execute("SELECT robot, doc FROM commissions")
        return {str(row[0]): bytes(row[1]) for row in rows}

    def holdings(self) -> list[tuple[str, bytes]]:
        """Every robot's journaled holding (:mod:`vda5050.recovery`), by robot key."""
        rows = self._db.execute("SELECT robot, doc FROM holdings ORDER BY robot")
        return [(str(row[0]), bytes(row[1])) for row in rows]

    def save_holding(self, robot: str, doc: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO holdings (robot, doc) VALUES (?, ?)", (robot, doc))

    def forget_holding(self, robot: str) -> None:
        self._db.execute("DELETE FROM holdings WHERE robot = ?", (robot,))

    def prune_answers(self, before_ms: int) -> None:
        self._db.execute("DELETE FROM answers WHERE answered_ms < ?", (before_ms,))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
