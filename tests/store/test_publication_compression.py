"""Publication JSON, written twice per publication, is compressed with lz4 on PostgreSQL."""

from __future__ import annotations

import pytest
from tortoise import Tortoise

from tests.conftest import TEST_DATABASE_URL


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="PostgreSQL: SQLite does not compress values")
async def test_outbox_and_room_state_json_are_compressed_with_lz4(database: None) -> None:
    conn = Tortoise.get_connection("default")
    rows = await conn.execute_query_dict(
        "SELECT c.relname, a.attcompression::text AS compression FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid"
        " WHERE c.relnamespace = current_schema()::regnamespace"
        " AND c.relname IN ('outbox', 'room_state') AND a.attname = 'data'"
    )
    assert {row["relname"]: row["compression"] for row in rows} == {
        "outbox": "l",
        "room_state": "l",
    }
