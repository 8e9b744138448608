"""The task connection's orders: ``/tasks``'s sortable columns, paged by opaque keyset cursors.

Each order is checked page by page against REST's keyset pages (``order_by``
and ``after``) over tasks whose sort values tie and go missing, so the ties
and the tasks without a value are where pages are most likely to overlap or
skip.
"""

from __future__ import annotations

from typing import Any

import pytest
from gql import GraphQLRequest
from gql.client import AsyncClientSession
from gql.transport.exceptions import TransportQueryError

from rest_api.graphql.task_pages import TaskOrder
from rest_api.query import TASK_SORT_FIELDS
from tests.rest_api.conftest import NOW_MS, Client, FakeHub

PAGE = """
query Page($filter: TaskFilter, $first: Int!, $after: String, $order: TaskOrder!, $desc: Boolean!) {
  tasks(filter: $filter, first: $first, after: $after, orderBy: $order, descending: $desc) {
    edges { cursor node { id state } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
ORDERS = [order.name for order in TaskOrder]
SOME = {"category": ["patrol", "delivery"]}
"""A filter the pages must honour: every task but the cleaning ones."""


async def _seed(hub: FakeHub) -> None:
    """Nine tasks: every column ties for some of them and is missing for some (but id)."""
    rows: list[dict[str, Any]] = [
        {"category": "patrol", "status": "queued", "requester": "alice", "start": NOW_MS},
        {"category": "delivery", "status": "underway", "assigned_to": "r1", "start": NOW_MS},
        {"category": "patrol", "status": "completed", "assigned_to": "r2", "finish": NOW_MS},
        {"category": "clean", "status": "underway", "requester": "bob", "requested": NOW_MS},
        {"category": "delivery", "status": "queued", "assigned_to": "r1", "requested": NOW_MS},
        {"category": "patrol", "status": "failed", "requester": "alice", "start": NOW_MS + 5},
        {"category": "delivery", "status": "completed", "finish": NOW_MS, "requested": NOW_MS},
        {"category": "patrol", "status": "underway", "assigned_to": "r2", "start": NOW_MS},
        {"category": "clean", "status": "queued", "requester": "bob", "finish": NOW_MS - 5},
    ]
    # Ids out of insertion order, so the id tie-break is not the order rows were written in.
    for index, row in zip((5, 2, 8, 0, 7, 3, 6, 1, 4), rows, strict=True):
        await hub.task(f"t{index}", **row)


async def _graphql_pages(
    graphql: AsyncClientSession, order: str, descending: bool, filter: dict[str, Any] | None
) -> list[list[dict[str, Any]]]:
    """Every page of two, following ``endCursor``."""
    pages: list[list[dict[str, Any]]] = []
    after = None
    while True:
        variables = {
            "filter": filter,
            "first": 2,
            "after": after,
            "order": order,
            "desc": descending,
        }
        answer = (await graphql.execute(GraphQLRequest(PAGE, variable_values=variables)))["tasks"]
        pages.append([edge["node"] for edge in answer["edges"]])
        if not answer["pageInfo"]["hasNextPage"]:
            return pages
        after = answer["pageInfo"]["endCursor"]


async def _rest_page(client: Client, params: dict[str, str]) -> list[dict[str, Any]]:
    async with client.get("/tasks", params=params) as response:
        assert response.status == 200, await response.text()
        page: list[dict[str, Any]] = await response.json()
        return page


def _rest_params(order: str, descending: bool, filter: dict[str, Any] | None) -> dict[str, str]:
    column = TaskOrder[order].value
    params = {"order_by": f"-{column}" if descending else column}
    if filter is not None:
        params["category"] = ",".join(filter["category"])
    return params


def test_the_orders_are_the_columns_rest_sorts_by() -> None:
    assert [order.value for order in TaskOrder] == list(TASK_SORT_FIELDS)


async def test_each_page_of_every_order_is_rests_keyset_page(
    hub: FakeHub, client: Client, graphql: AsyncClientSession
) -> None:
    await _seed(hub)
    for order in ORDERS:
        for descending in (False, True):
            params = _rest_params(order, descending, SOME)
            pages = await _graphql_pages(graphql, order, descending, SOME)
            after: dict[str, str] = {}
            for page in pages:
                rest = await _rest_page(client, {**params, **after, "limit": "2"})
                assert [node["state"] for node in page] == rest, (order, descending)
                after = {"after": page[-1]["id"]}


async def test_walking_every_page_lists_every_task_once_in_rests_order(
    hub: FakeHub, client: Client, graphql: AsyncClientSession
) -> None:
    await _seed(hub)
    for order in ORDERS:
        for descending in (False, True):
            pages = await _graphql_pages(graphql, order, descending, None)
            walked = [node["id"] for page in pages for node in page]
            everything = await _rest_page(client, _rest_params(order, descending, None))
            assert walked == [task["booking"]["id"] for task in everything], (order, descending)
            assert sorted(walked) == [f"t{index}" for index in range(9)]


async def _refusal(graphql: AsyncClientSession, variables: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(TransportQueryError) as refused:
        await graphql.execute(GraphQLRequest(PAGE, variable_values={"first": 2, **variables}))
    assert refused.value.errors is not None
    error: dict[str, Any] = refused.value.errors[0]
    return error


async def test_a_cursor_of_another_order_is_refused(
    hub: FakeHub, graphql: AsyncClientSession
) -> None:
    await _seed(hub)
    first = {"first": 2, "order": "CATEGORY", "desc": False}
    answer = await graphql.execute(GraphQLRequest(PAGE, variable_values=first))
    cursor = answer["tasks"]["pageInfo"]["endCursor"]

    for order, descending, asked in (("STATUS", False, "status"), ("CATEGORY", True, "-category")):
        error = await _refusal(graphql, {"after": cursor, "order": order, "desc": descending})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"].startswith(
            f"after: a cursor of the tasks ordered by 'category', not by '{asked}'"
        )


async def test_a_cursor_the_api_never_gave_is_refused(graphql: AsyncClientSession) -> None:
    for forged in (
        "not base64!",
        "bm90IGpzb24=",  # not JSON
        "WzEsMl0=",  # [1,2]
        "WyJpZCIsbnVsbCwidDEiXQ==",  # ["id",null,"t1"]: no id to page after
        "WyJpZCIsMSwidDEiXQ==",  # ["id",1,"t1"]: a number for an id
    ):
        error = await _refusal(graphql, {"after": forged, "order": "ID", "desc": False})
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert error["message"] == "after: not a cursor this API gave", forged
