"""The schema and its limits, built once per app from the settings.

Limits are checked before anything runs: depth, aliases, tokens (which
bound the document's size and so its breadth), the operations of one
batched request, the subscriptions of one websocket. Their refusals name
the limit. A document is parsed and validated once (both cached, bounded,
keyed by its text): validation was nearly half of a small query's time.
Errors leak nothing: a :class:`~rest_api.graphql.context.Refusal`
(not found, forbidden, bad input) and graphql-core's own syntax and
validation errors are shown; any other failure is logged with its
traceback and answered "Internal error." with no detail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache, partial
from pathlib import Path

import strawberry
from graphql import ASTValidationRule, DocumentNode, GraphQLError, parse
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
    ValidationCache,
    max_aliases,
    query_depth_limiter,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext
from strawberry.utils.logging import StrawberryLogger

from fleetcore.log import api_logger
from fleetcore.metrics import GRAPHQL_ERRORS
from fleetcore.outage import Outage, is_transient
from fleetcore.settings import GraphqlSettings
from rest_api.graphql.context import Refusal
from rest_api.graphql.mutation import Mutation
from rest_api.graphql.query import Query
from rest_api.graphql.subscription import SharedExecution, Subscription
from rest_api.graphql.types import SCALARS

SDL_PATH = Path(__file__).with_name("schema.graphql")
"""The checked-in SDL; ``tests/rest_api/test_graphql_schema.py`` fails when it is not the schema's."""
CACHED_DOCUMENTS = 256
"""Distinct documents whose parse and validation are kept: a client's few queries, many
clients; a flood of distinct texts only evicts (the caches are LRU and bounded)."""
INTERNAL_ERROR = "Internal error."
OUTAGE = "the database or the bus is unreachable; retry shortly"


def _masked(error: GraphQLError) -> bool:
    """Only failures the client did not cause: they may carry paths, SQL, or a secret."""
    original = error.original_error
    return original is not None and not isinstance(original, Refusal | GraphQLError)


def _outage(error: GraphQLError) -> BaseException | None:
    """The database or the bus unreachable: retrying will work, as REST's 503 says."""
    original = error.original_error
    return original if original is not None and is_transient(original) else None


class _Masks(MaskErrors):
    """Internal failures answered without detail; an outage answered as one (UNAVAILABLE)."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if _outage(error) is None:
            return super().anonymise_error(error)
        return GraphQLError(
            OUTAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "UNAVAILABLE"},
        )

    def _process_result(self, result: object) -> None:
        """A result without errors has nothing to mask: this skips strawberry's check of it
        against a runtime protocol, which cost a tenth of each subscription update."""
        if getattr(result, "errors", None):
            super()._process_result(result)


class _Recovery(SchemaExtension):
    """Tells the outage an operation ran without one, so its end is logged once."""

    def __init__(self, outage: Outage) -> None:
        self._outage = outage

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and not result.errors:
            self._outage.recovered()


@lru_cache(maxsize=CACHED_DOCUMENTS)
def _parsed(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


class _ParsedOnce(SchemaExtension):
    """Parses each distinct document once. A document that does not parse is left to
    strawberry, which parses it again and answers its syntax error (strawberry's own
    ``ParserCache`` raises it from the hook instead, which it would answer as a failure)."""

    def __init__(self, max_tokens: int) -> None:
        self._max_tokens = max_tokens

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None:
            try:
                context.graphql_document = _parsed(context.query, self._max_tokens)
            except GraphQLError:
                pass
        yield


def _limit_rules(settings: GraphqlSettings) -> list[type[ASTValidationRule]]:
    """The limits' validation rules, built once: strawberry's limiter extensions build new
    rule classes for every operation, which no validation cache can ever match."""
    rules: list[type[ASTValidationRule]] = [
        query_depth_limiter.create_validator(settings.graphql_max_depth, None, None),
        max_aliases.create_validator(settings.graphql_max_aliases),
    ]
    if not settings.graphql_introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    return rules


class _Schema(strawberry.Schema):
    outage: Outage

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Count every error; log only internal ones (before masking, so with their traceback):
        a client's mistakes are not an operator's, and logging them would let clients flood the log."""
        for error in errors:
            unreachable = _outage(error)
            if unreachable is not None:
                GRAPHQL_ERRORS.labels("unavailable").inc()
                self.outage.failed(unreachable)
            elif _masked(error):
                GRAPHQL_ERRORS.labels("internal").inc()
                StrawberryLogger.error(error, execution_context)
            else:
                GRAPHQL_ERRORS.labels("refused").inc()


def build_schema(settings: GraphqlSettings) -> strawberry.Schema:
    outage = Outage(api_logger, "GraphQL's database or bus")
    # Factories, not instances: strawberry builds fresh extensions for every operation.
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(AddValidationRules, _limit_rules(settings)),
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(_ParsedOnce, settings.graphql_max_tokens),
        partial(ValidationCache, maxsize=CACHED_DOCUMENTS),
        partial(_Masks, should_mask_error=_masked, error_message=INTERNAL_ERROR),
        partial(_Recovery, outage),
    ]
    schema = _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=SharedExecution,
        config=StrawberryConfig(
            batching_config={"max_operations": settings.graphql_max_batch}, scalar_map=SCALARS
        ),
    )
    schema.outage = outage
    return schema


def sdl() -> str:
    """The schema's SDL as it is checked in (limits do not change it)."""
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
    )
    return schema.as_str() + "\n"
