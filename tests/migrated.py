"""A database the real migrations built once a session, copied for each embedded test.

The migration machinery costs about a second of CPU on an empty database and 10 ms on a
migrated one. An embedded test starts from a copy of the session's migrated database (a
SQLite file, or a PostgreSQL schema's dump), and its start-up still runs the same
migrations, which find nothing pending: what the test sees is what ``fleethub migrate``
builds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit


def _migrate(database_url: str) -> None:
    # Its own process: tortoise's connections are process-wide, and a wider fixture's may be open.
    environ = {**os.environ, "FLEETHUB_DATABASE_URL": database_url}
    subprocess.run(
        [sys.executable, "-m", "fleethub", "migrate"], env=environ, check=True, capture_output=True
    )


def _schema_of(database_url: str) -> str:
    return parse_qs(urlsplit(database_url).query)["schema"][0]


def _without_query(database_url: str) -> str:
    return urlunsplit(urlsplit(database_url)._replace(query=""))


class MigratedSqlite:
    """A migrated SQLite file, copied to a test's database file that does not exist yet."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "fleethub.sqlite3"
        _migrate(f"sqlite://{self.path}")

    async def seed(self, database_url: str) -> None:
        await asyncio.to_thread(self._copy, Path(database_url.removeprefix("sqlite://")))

    def _copy(self, target: Path) -> None:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.path, target)


class MigratedPostgres:
    """A migrated schema's dump (``pg_dump --inserts``), replayed into a test's empty schema."""

    def __init__(self, server_url: str) -> None:
        import asyncpg

        self.name = "migrated_" + uuid.uuid4().hex[:12]
        plain = _without_query(server_url)

        async def schema(statement: str) -> None:
            conn = await asyncpg.connect(plain)
            try:
                await conn.execute(statement)
            finally:
                await conn.close()

        asyncio.run(schema(f'CREATE SCHEMA "{self.name}"'))
        try:
            _migrate(server_url + ("&" if "?" in server_url else "?") + f"schema={self.name}")
            dump = subprocess.run(
                [
                    "pg_dump",
                    "--schema",
                    self.name,
                    "--inserts",
                    "--no-owner",
                    "--no-privileges",
                    plain,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        finally:
            asyncio.run(schema(f'DROP SCHEMA "{self.name}" CASCADE'))
        # psql's meta-commands (\restrict) and the schema's own creation are not for a replay.
        self.script = "\n".join(
            line
            for line in dump.splitlines()
            if not line.startswith("\\") and not line.startswith("CREATE SCHEMA ")
        )

    async def seed(self, database_url: str) -> None:
        import asyncpg

        schema = _schema_of(database_url)
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


def migrated(directory: Path, server_url: str) -> Migrated | None:
    """The session's migrated database for this pass; None where pg_dump is missing."""
    if not server_url:
        return MigratedSqlite(directory)
    if shutil.which("pg_dump") is None:
        return None
    return MigratedPostgres(server_url)
