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

from collections.abc import Callable
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

from fleetcore.metrics import GRAPHQL_ERRORS
from fleetcore.settings import GraphqlSettings
from rest_api.graphql.context import Refusal
from rest_api.graphql.mutation import Mutation
from rest_api.graphql.query import Query
from rest_api.graphql.subscription import Subscription
from rest_api.graphql.types import SCALARS

SDL_PATH = Path(__file__).with_name("schema.graphql")
"""The checked-in SDL; ``tests/rest_api/test_graphql_schema.py`` fails when it is not the schema's."""
INTERNAL_ERROR = "Internal error."


def _masked(error: GraphQLError) -> bool:
    """Only failures the client did not cause: they may carry paths, SQL, or a secret."""
    original = error.original_error
    return original is not None and not isinstance(original, Refusal | GraphQLError)


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Count every error; log only internal ones (before masking, so with their traceback):
        a client's mistakes are not an operator's, and logging them would let clients flood the log."""
        for error in errors:
            internal = _masked(error)
            GRAPHQL_ERRORS.labels("internal" if internal else "refused").inc()
            if internal:
                StrawberryLogger.error(error, execution_context)


def build_schema(settings: GraphqlSettings) -> strawberry.Schema:
    # Factories, not instances: strawberry builds fresh extensions for every operation.
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(QueryDepthLimiter, max_depth=settings.graphql_max_depth),
        partial(MaxAliasesLimiter, max_alias_count=settings.graphql_max_aliases),
        partial(MaxTokensLimiter, max_token_count=settings.graphql_max_tokens),
        partial(MaskErrors, should_mask_error=_masked, error_message=INTERNAL_ERROR),
    ]
    if not settings.graphql_introspection:
        extensions.append(partial(AddValidationRules, [NoSchemaIntrospectionCustomRule]))
    return _Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(
            batching_config={"max_operations": settings.graphql_max_batch}, scalar_map=SCALARS
        ),
    )


def sdl() -> str:
    """The schema's SDL as it is checked in (limits do not change it)."""
    schema = strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALARS),
    )
    return schema.as_str() + "\n"
