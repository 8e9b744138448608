"""The schema and its limits, built once per app from the settings.

Limits are checked before anything runs: depth, aliases, tokens (which
bound the document's size and so its breadth), the operations of one
batched request, the subscriptions of one websocket. Their refusals name
the limit. Errors leak nothing: a :class:`~rest_api.graphql.context.Refusal`
(not found, forbidden, bad input) and graphql-core's own syntax and
validation errors are shown; any other failure is logged with its
traceback and answered "Internal error." with no detail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import strawberry
from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
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
from rest_api.graphql.subscription import Subscription
from rest_api.graphql.types import SCALARS

SDL_PATH = Path(__file__).with_name("schema.graphql")
"""The checked-in SDL; ``tests/rest_api/test_graphql_schema.py`` fails when it is not the schema's."""
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


class _Recovery(SchemaExtension):
    """Tells the outage an operation ran without one, so its end is logged once."""

    def __init__(self, outage: Outage) -> None:
        self._outage = outage

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        if result is not None and not result.errors:
            self._outage.recovered()


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
        partial(QueryDepthLimiter, max_depth=settings.graphql_max_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.graphql_max_aliases),
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(_Masks, should_mask_error=_masked, error_message=INTERNAL_ERROR),
        partial(_Recovery, outage),
    ]
    if not settings.graphql_introspection:
        extensions.append(partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    schema = _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
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
