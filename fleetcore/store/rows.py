"""Rows of a query as the database driver returns them, without tortoise's per-value conversion."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from tortoise.queryset import ValuesListQuery


async def plain_rows(query: ValuesListQuery[Any]) -> list[Sequence[Any]]:
    """The rows of ``query`` (a ``values_list``) as the driver's records, each unpacked like a
    tuple. For columns the driver already returns as Python wants them (integers, text):
    tortoise's conversion of each value was most of a 1,000-event page's CPU."""
    query.sql()
    sql, params = query.query.get_parameterized_sql()
    assert query._db is not None
    _, rows = await query._db.execute_query(sql, params)
    # Typed as dicts; asyncpg's records and sqlite3's rows are both sequences too.
    return cast(list[Sequence[Any]], list(rows))
