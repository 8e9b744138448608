"""What a handler's failure becomes when it is not the handler's fault: a specific answer.

**An outage.** A request that finds PostgreSQL or Redis unreachable cannot
be answered, and retrying it later will be: that is a 503 with a body that
says so (and a ``Retry-After``), not a 500 with a traceback per request. The
outage is logged at WARNING when it begins and when a request next succeeds
(:class:`fleetcore.outage.Outage`).

**A value the store refuses to compare.** A name in a path or a query that
no column could hold (longer than it, or with a NUL PostgreSQL cannot
store) names nothing stored; the database's refusal to even look it up is a
404 saying so, not a 500. (Bodies are bounded by their models before any
write, in the columns' units.)

Any other failure is left to aiohttp, which logs it at ERROR with its
traceback: that one needs a human.
"""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from asyncpg.exceptions import DataError
from tortoise.exceptions import ValidationError

from fleetcore.log import api_logger
from fleetcore.outage import Outage, causes, describe, is_transient
from rest_api.responses import json_body, not_found

RETRY_AFTER_S = "5"


def failures_middleware(operations: Collection[object]) -> Middleware:
    """The middleware of one app: its requests share one outage state.

    Only the REST ``operations`` (their handlers) are answered so; on a shared
    app, socket.io and the hub's websocket handle their own failures (a
    websocket's response is sent before a failure could be answered).
    """
    outage = Outage(api_logger, "the REST API's database or bus")

    @web.middleware
    async def failures(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.handler not in operations:
            return await handler(request)
        try:
            response = await handler(request)
        except web.HTTPException:
            outage.recovered()  # an answer (a 404, say): the database and the bus answered
            raise
        except Exception as exc:
            if is_transient(exc):
                outage.failed(exc)
                answer = json_body(
                    {"detail": "the database or the bus is unreachable; retry shortly"}, 503
                )
                answer.headers["Retry-After"] = RETRY_AFTER_S
                return answer
            refused = next(
                (c for c in causes(exc) if isinstance(c, ValidationError | DataError)), None
            )
            if refused is None:
                raise
            # The message quotes the value, which may hold a lone surrogate JSON cannot encode.
            problem = f"nothing stored can be named so: {describe(refused)}"
            raise not_found(problem.encode(errors="replace").decode()) from None
        outage.recovered()
        return response

    return failures
