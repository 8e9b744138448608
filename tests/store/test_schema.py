"""The models and the migrations describe one schema.

Three ways to build it, compared on the pass's database (SQLite, or
PostgreSQL in the second pass): ``fleethub migrate`` (the migrations, as
production applies them), tortoise's ``generate_schemas`` (the models), and
the migrations' SQL that the ``database`` fixture runs for speed; and the
copy of a migrated database that the ``embedded`` fixture starts from. Tables,
columns with their types, nullability and defaults, and indexes with their
columns and uniqueness (unique constraints are unique indexes) must be the
same in all three: a model changed without a migration fails here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tortoise import Tortoise

from fleetcore.store.db import close_database, migrate, open_database, pending_migrations
from tests.conftest import TEST_DATABASE_URL, fresh_database_url
from tests.migrated import seed

Schema = dict[str, dict[str, Any]]
RECORDER = "tortoise_migrations"
"""tortoise's record of applied migrations: not part of the models."""


async def _sqlite_schema() -> Schema:
    conn = Tortoise.get_connection("default")
    tables = await conn.execute_query_dict(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    schema: Schema = {}
    for (table,) in ((row["name"],) for row in tables):
        columns = await conn.execute_query_dict(f'PRAGMA table_info("{table}")')
        indexes = []
        for index in await conn.execute_query_dict(f'PRAGMA index_list("{table}")'):
            names = await conn.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
            indexes.append((tuple(n["name"] for n in names), bool(index["unique"])))
        schema[table] = {
            "columns": {
                c["name"]: (c["type"].upper(), bool(c["notnull"]), c["dflt_value"], c["pk"])
                for c in columns
            },
            "indexes": sorted(indexes),
        }
    return schema


async def _postgres_schema() -> Schema:
    conn = Tortoise.get_connection("default")
    columns = await conn.execute_query_dict(
        "SELECT table_name, column_name, data_type, character_maximum_length, is_nullable,"
        " column_default FROM information_schema.columns WHERE table_schema = current_schema()"
    )
    indexes = await conn.execute_query_dict(
        "SELECT t.relname AS table_name, i.indisunique AS is_unique,"
        " array_agg(a.attname ORDER BY k.ord) AS columns"
        " FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid"
        " JOIN pg_namespace n ON n.oid = t.relnamespace"
        " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)"
        " JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum"
        " WHERE n.nspname = current_schema() GROUP BY t.relname, i.indexrelid, i.indisunique"
    )
    schema: Schema = {}
    for c in columns:
        table = schema.setdefault(c["table_name"], {"columns": {}, "indexes": []})
        table["columns"][c["column_name"]] = (
            c["data_type"],
            c["character_maximum_length"],
            c["is_nullable"] == "NO",
            c["column_default"],
        )
    for index in indexes:
        schema[index["table_name"]]["indexes"].append((tuple(index["columns"]), index["is_unique"]))
    for table in schema.values():
        table["indexes"].sort()
    return schema


async def _schema() -> Schema:
    return await (_postgres_schema() if TEST_DATABASE_URL else _sqlite_schema())


async def _built(directory: Path, build: Callable[[], Awaitable[Any]]) -> Schema:
    async with fresh_database_url(directory) as url:
        await open_database(url, apply_migrations=False, check=False)
        try:
            await build()
            schema = await _schema()
        finally:
            await close_database()
    schema.pop(RECORDER, None)
    return schema


async def test_the_migrations_build_the_schema_the_models_describe(
    tmp_path: Path, migrations_sql: str
) -> None:
    migrated = await _built(tmp_path / "migrated", migrate)
    modelled = await _built(tmp_path / "modelled", Tortoise.generate_schemas)
    scripted = await _built(
        tmp_path / "scripted",
        lambda: Tortoise.get_connection("default").execute_script(migrations_sql),
    )
    assert migrated, "the migrations built no table"
    assert sorted(modelled) == sorted(migrated)
    for table, built in migrated.items():
        assert modelled[table] == built, table
        assert scripted[table] == built, table
    assert scripted.keys() == migrated.keys()


async def test_an_embedded_tests_copy_is_the_migrated_database_with_nothing_pending(
    tmp_path: Path,
) -> None:
    migrated = await _built(tmp_path / "migrated", migrate)
    async with fresh_database_url(tmp_path / "copied") as url:
        await seed(url, TEST_DATABASE_URL)
        await open_database(url, apply_migrations=False, check=False)
        try:
            copied = await _schema()
            pending = await pending_migrations()
        finally:
            await close_database()
    assert pending == []
    assert copied.pop(RECORDER)
    assert copied == migrated
