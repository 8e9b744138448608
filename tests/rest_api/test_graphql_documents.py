"""A GraphQL document is parsed and validated once, and every refusal still holds when it comes again.

The REST app runs on a loopback port over the pass's database and bus
(``client``); each test sends its own document text, so the process-wide
caches hold nothing of another test's.
"""

from __future__ import annotations

from functools import _lru_cache_wrapper
from typing import Any, cast

from strawberry.extensions.validation_cache import _get_validate_cache

from rest_api.graphql.schema import CACHED_DOCUMENTS, INTERNAL_ERROR, _parsed
from tests.rest_api.conftest import Client


async def _ask(client: Client, query: str) -> dict[str, Any]:
    async with client.post("/graphql", json={"query": query}) as response:
        body: dict[str, Any] = await response.json()
    return body


async def test_a_document_asked_again_is_neither_parsed_nor_validated_again(
    client: Client,
) -> None:
    query = "query SecondTime { position { seq epoch } }"
    validations = cast("_lru_cache_wrapper[Any]", _get_validate_cache(CACHED_DOCUMENTS))
    first = await _ask(client, query)
    parsed, validated = _parsed.cache_info(), validations.cache_info()
    again = await _ask(client, query)
    assert again == first and "errors" not in again
    assert _parsed.cache_info().hits == parsed.hits + 1
    assert _parsed.cache_info().misses == parsed.misses
    assert validations.cache_info().hits == validated.hits + 1
    assert validations.cache_info().misses == validated.misses


async def test_a_document_over_the_depth_limit_is_refused_every_time(client: Client) -> None:
    nested = "robot { task { " * 5 + "id" + " } }" * 5
    deep = "query TooDeep { tasks { edges { node { " + nested + " } } } }"
    for _ in range(2):
        body = await _ask(client, deep)
        assert "exceeds maximum operation depth of 10" in body["errors"][0]["message"]


async def test_a_document_that_does_not_parse_is_answered_its_syntax_error_every_time(
    client: Client,
) -> None:
    for _ in range(2):
        body = await _ask(client, "query Broken { position { seq ")
        message = body["errors"][0]["message"]
        assert message.startswith("Syntax Error") and message != INTERNAL_ERROR


async def test_a_document_over_the_token_limit_is_refused_every_time(client: Client) -> None:
    huge = "query Huge { " + "position { epoch } " * 600 + "}"
    for _ in range(2):
        body = await _ask(client, huge)
        assert "more than 2000 tokens" in body["errors"][0]["message"]
