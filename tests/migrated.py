"""A database the real migrations built once a session, copied for each embedded test.

The migration machinery costs about a second of CPU on an empty database and 10 ms on a
migrated one. An embedded test starts from a copy of the session's migrated database (a
SQLite file, or a PostgreSQL schema's dump), and its start-up still runs the same
migrations, which find nothing pending: what the test sees is what ``fleethub migrate``
builds (tests/store/test_schema.py compares the two).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit


def _run(argv: list[str], **environ: str) -> str:
    done = subprocess.run(
        argv, env={**os.environ, **environ}, check=True, capture_output=True, text=True
    )
    return done.stdout


def _migrate(database_url: str) -> None:
    # Its own process: tortoise's connections are process-wide, and a test's may be open.
    _run([sys.executable, "-m", "fleethub", "migrate"], FLEETHUB_DATABASE_URL=database_url)


def _without_query(database_url: str) -> str:
    return urlunsplit(urlsplit(database_url)._replace(query=""))


class MigratedSqlite:
    """A migrated SQLite file, copied to a test's database file that does not exist yet."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "fleethub.sqlite3"
        _migrate(f"sqlite://{self.path}")

    async def seed(self, database_url: str) -> None:
        if database_url.startswith("sqlite://") and ":memory:" not in database_url:
            await asyncio.to_thread(self._copy, Path(database_url.removeprefix("sqlite://")))

    def _copy(self, target: Path) -> None:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.path, target)


class MigratedPostgres:
    """A migrated schema's dump (``pg_dump --inserts``), replayed into a test's empty schema."""

    def __init__(self, server_url: str) -> None:
        self.name = "migrated_" + uuid.uuid4().hex[:12]
        plain = _without_query(server_url)
        _run(["psql", plain, "-q", "-c", f'CREATE SCHEMA "{self.name}"'])
        try:
            _migrate(server_url + ("&" if "?" in server_url else "?") + f"schema={self.name}")
            dump = _run(
                [
                    "pg_dump",
                    "--schema",
                    self.name,
                    "--inserts",
                    "--no-owner",
                    "--no-privileges",
                    plain,
                ]
            )
        finally:
            _run(["psql", plain, "-q", "-c", f'DROP SCHEMA "{self.name}" CASCADE'])
        # psql's meta-commands (\restrict) and the schema's own creation are not for a replay.
        self.script = "\n".join(
            line
            for line in dump.splitlines()
            if not line.startswith("\\") and not line.startswith("CREATE SCHEMA ")
        )

    async def seed(self, database_url: str) -> None:
        import asyncpg

        query = parse_qs(urlsplit(database_url).query)
        if not database_url.startswith("postgres") or "schema" not in query:
            return
        schema = query["schema"][0]
        conn = await asyncpg.connect(_without_query(database_url))
        try:
            tables = await conn.fetchval(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1", schema
            )
            if tables == 0:
                await conn.execute(self.script.replace(self.name, schema))
        finally:
            await conn.close()


Migrated = MigratedSqlite | MigratedPostgres
_built: dict[str, Migrated | None] = {}


def migrated(server_url: str) -> Migrated | None:
    """This process's migrated database for ``server_url`` (empty: SQLite), built on first use.

    None where PostgreSQL's client tools are missing: tests then migrate as production does.
    """
    if server_url not in _built:
        if not server_url:
            directory = tempfile.mkdtemp(prefix="fleethub-migrated-")
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
            _built[server_url] = MigratedSqlite(Path(directory))
        elif shutil.which("pg_dump") and shutil.which("psql"):
            _built[server_url] = MigratedPostgres(server_url)
        else:
            _built[server_url] = None
    return _built[server_url]


async def seed(database_url: str, server_url: str) -> None:
    """Give ``database_url`` (new and empty) the migrated tables and their migration record."""
    built = await asyncio.to_thread(migrated, server_url)
    if built is not None:
        await built.seed(database_url)
