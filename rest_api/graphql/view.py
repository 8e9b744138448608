"""``/graphql`` on the REST app: HTTP and graphql-transport-ws, authenticated as REST is.

HTTP requests carry REST's bearer token and are refused by REST's 401
before any GraphQL runs; the GraphiQL page (a static page: its queries
carry the token the user gives it) is served only with ``graphql_ide``. A
websocket authenticates in ``connection_init``, whose payload carries
``{"Authorization": "Bearer <token>"}`` (browsers cannot set headers on a
websocket); a missing or bad token closes it with 4403 before any
subscription. The SDL is served at ``/graphql/schema.graphql``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from aiohttp import web
from strawberry.aiohttp.views import GraphQLView
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from fleetcore.errors import Unauthorized
from fleetcore.settings import Settings
from rest_api.access import AUTH_KEY, PRINCIPAL_KEY, bearer_token, unauthorized
from rest_api.graphql.context import GRAPHQL_PATH, Context
from rest_api.graphql.schema import SDL_PATH, build_schema
from rest_api.graphql.subscription import next_message, rooms_lifetime

TOKEN_EXPIRED = 4401
"""graphql-transport-ws's Unauthorized: the connection's token expired."""
EXPIRY_KEY = web.RequestKey("graphql_token_expiry", asyncio.TimerHandle)
"""Closes a websocket when its token expires; cancelled when the websocket ends first."""
_CLOSING: set[asyncio.Task[bool]] = set()
"""Closes under way, held so they are not collected before they ran."""
INIT_WAIT = timedelta(seconds=10)
"""How long a websocket may stay open without a ``connection_init``."""


class FleethubGraphQLView(GraphQLView[Context, None]):
    async def __call__(self, request: web.Request) -> web.StreamResponse:
        if self.is_websocket_request(request):
            try:
                return await super().__call__(request)
            finally:
                expiry = request.get(EXPIRY_KEY)
                if expiry is not None:
                    expiry.cancel()
        if self._ide_page(request):
            return await super().__call__(request)
        try:
            principal = await request.app[AUTH_KEY].principal(bearer_token(request))
        except Unauthorized as exc:
            return unauthorized(exc)
        request[PRINCIPAL_KEY] = principal
        return await super().__call__(request)

    def _ide_page(self, request: web.Request) -> bool:
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and "text/html" in request.headers.get("Accept", "")
            and "query" not in request.query
        )

    def encode_json(self, data: object) -> str | bytes:
        """A subscription's update as its shared JSON in this operation's envelope
        (:func:`~rest_api.graphql.subscription.next_message`); anything else as strawberry encodes it."""
        message = next_message(data)
        return super().encode_json(data) if message is None else message

    async def get_context(
        self, request: web.Request, response: web.Response | web.WebSocketResponse
    ) -> Context:
        context = Context(request=request, principal=request.get(PRINCIPAL_KEY))
        if isinstance(response, web.WebSocketResponse):
            context.websocket = response
        return context

    async def on_ws_connect(self, context: Context) -> Any:
        token = context.connection_params.get("Authorization", "")
        scheme, _, value = str(token).partition(" ")
        try:
            context.principal = await context.app[AUTH_KEY].principal(
                value.strip() if scheme.lower() == "bearer" else None
            )
        except Unauthorized as exc:
            raise ConnectionRejectionError({"reason": exc.reason}) from None
        _close_at_expiry(context)
        return await super().on_ws_connect(context)


def _close_at_expiry(context: Context) -> None:
    """A websocket lives no longer than its token: closed with 4401 when it expires, as
    socket.io disconnects its client; the client reconnects with a fresh token."""
    expires_at = None if context.principal is None else context.principal.expires_at
    websocket = context.websocket
    if expires_at is None or websocket is None:
        return
    loop = asyncio.get_running_loop()

    def close() -> None:
        if not websocket.closed:
            task = loop.create_task(websocket.close(code=TOKEN_EXPIRED, message=b"token expired"))
            _CLOSING.add(task)
            task.add_done_callback(_CLOSING.discard)

    delay = max(0.0, expires_at - time.time())
    context.request[EXPIRY_KEY] = loop.call_at(loop.time() + delay, close)


def add_graphql(app: web.Application, settings: Settings) -> None:
    """Mount ``/graphql`` and ``/graphql/schema.graphql``; the app must hold the bus and the authenticator."""
    view = FleethubGraphQLView(
        schema=build_schema(settings),
        graphql_ide="graphiql" if settings.graphql_ide else None,
        allow_queries_via_get=False,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=INIT_WAIT,
        max_subscriptions_per_connection=settings.graphql_max_subscriptions,
    )
    sdl = SDL_PATH.read_bytes()

    async def schema_sdl(request: web.Request) -> web.Response:
        return web.Response(body=sdl, content_type="text/plain", charset="utf-8")

    app.router.add_route("*", GRAPHQL_PATH, view)
    app.router.add_get(f"{GRAPHQL_PATH}/schema.graphql", schema_sdl)
    app.cleanup_ctx.append(rooms_lifetime)
