"""Queries planned for their values rather than by a prepared statement's generic plan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from fleetcore.store import models as db


@asynccontextmanager
async def custom_plans() -> AsyncIterator[BaseDBAsyncClient | None]:
    """A connection (PostgreSQL; None for SQLite) whose queries are planned for the values
    they are given, for the rest of a transaction.

    asyncpg prepares each statement, and PostgreSQL plans a prepared statement for its
    parameters' average after five runs: for a filter whose values differ a thousandfold
    in how many rows they match (two labels, one of a few tasks), that generic plan hashed
    every task of the first label where the plan for the value probes the newest few.
    """
    if db.TaskState._meta.db.capabilities.dialect != "postgres":
        yield None
        return
    async with in_transaction() as conn:
        await conn.execute_query("SET LOCAL plan_cache_mode = force_custom_plan")
        yield conn
