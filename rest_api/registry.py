"""Route registration that records what the OpenAPI document needs.

aiohttp's ``RouteTableDef`` knows a handler's path and method only; this
table also records the query model, the response type and the errors of
each operation, so the document is generated from the same declarations the
handlers are mounted from and cannot drift from them. A handler with a
query model receives the validated query, so what is documented is what is
enforced.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import Counter
from pydantic import BaseModel

from fleetcore.errors import ConfigError
from rest_api.access import Access, Guarded, middleware
from rest_api.query import parse_body, parse_query

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Q = TypeVar("Q", bound=BaseModel)
QueryHandler = Callable[[web.Request, Q], Awaitable[web.StreamResponse]]
BodyHandler = Callable[[web.Request, Q], Awaitable[web.StreamResponse]]
InputHandler = Callable[..., Awaitable[web.StreamResponse]]
"""A handler of :meth:`ApiRoutes.route`: the request, then its validated inputs by keyword."""

API_REQUESTS = Counter(
    "fleethub_api_requests_total",
    "REST requests answered, by operation and status.",
    ["operation", "status"],
)


@dataclass(frozen=True, slots=True)
class Operation:
    """One documented operation (a GET, or a POST with a JSON body)."""

    path: str
    handler: Handler
    operation_id: str
    tag: str
    summary: str
    description: str
    response: Any
    """A type pydantic can describe (a model, ``list[Model]``, ``int``), or None for non-JSON."""
    media_type: str
    query: type[BaseModel] | None
    errors: tuple[int, ...]
    positioned: bool
    """Whether the response carries the X-Fleethub-Seq/Epoch headers."""
    method: str = "get"
    body: type[BaseModel] | None = None
    """The model a POST's JSON body is validated with."""
    access: Access | None = None
    """Who may call it; :func:`mount` refuses an operation that does not say."""
    bodies: tuple[tuple[int, Any], ...] = ()
    """(status, type) of the statuses this operation answers in another shape than the usual
    one for the status (rmf-web's 404 of a commission is a commission response)."""


class ApiRoutes:
    """The operations of one resource, declared with decorators.

    ``access`` is the router's default: who may call an operation that does not say
    otherwise, so a resource whose operations share one rule (the admin API: ``ADMIN``)
    writes it once. Without a default every operation must declare its own.
    """

    def __init__(self, tag: str, *, access: Access | None = None) -> None:
        self.tag = tag
        self.access = access
        self._operations: list[Operation] = []

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._operations)

    def access_of(self, handler: Callable[..., Any]) -> tuple[str, Access]:
        """The operation id and access declared for ``handler``: GraphQL's mutation doing the
        same checks them, so who may is declared once."""
        op = next(op for op in self._operations if op.operation_id == handler.__name__)
        if op.access is None:
            raise ConfigError(f"{op.operation_id} declares no access")
        return op.operation_id, op.access

    def get(
        self,
        path: str,
        *,
        response: Any,
        media_type: str = "application/json",
        errors: tuple[int, ...] = (),
        positioned: bool = False,
        access: Access | None = None,
    ) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self._add(path, fn, fn, response, media_type, None, errors, positioned, access=access)
            return fn

        return register

    def get_query(
        self,
        path: str,
        *,
        query: type[Q],
        response: Any,
        errors: tuple[int, ...] = (),
        positioned: bool = False,
        access: Access | None = None,
    ) -> Callable[[QueryHandler[Q]], QueryHandler[Q]]:
        """Like :meth:`get`; the handler also receives the query validated by ``query``."""
        return self.route(
            "get",
            path,
            response=response,
            query=query,
            errors=errors,
            positioned=positioned,
            access=access,
        )

    def post(
        self,
        path: str,
        *,
        body: type[Q],
        response: Any,
        errors: tuple[int, ...] = (),
        access: Access | None = None,
    ) -> Callable[[BodyHandler[Q]], BodyHandler[Q]]:
        """A POST whose handler receives the JSON body validated by ``body`` (else a 422)."""
        return self.route("post", path, response=response, body=body, errors=errors, access=access)

    def route(
        self,
        method: str,
        path: str,
        *,
        response: Any,
        query: type[BaseModel] | None = None,
        body: type[BaseModel] | None = None,
        errors: tuple[int, ...] = (),
        positioned: bool = False,
        access: Access | None = None,
        bodies: dict[int, Any] | None = None,
    ) -> Callable[[InputHandler], InputHandler]:
        """Any method, with a query model, a body model, both or neither.

        The handler receives the validated inputs as keyword arguments
        ``query`` and ``body`` (each only when declared); a bad one is a 422.
        ``bodies`` documents statuses answered in another shape than usual.
        """

        def register(fn: InputHandler) -> InputHandler:
            async def handler(request: web.Request) -> web.StreamResponse:
                inputs: dict[str, BaseModel] = {}
                if query is not None:
                    inputs["query"] = parse_query(query, request)
                if body is not None:
                    inputs["body"] = await parse_body(body, request)
                return await fn(request, **inputs)

            validated = query is not None or body is not None
            self._add(
                path,
                handler,
                fn,
                response,
                "application/json",
                query,
                (*errors, 422) if validated else errors,
                positioned,
                access=access,
            )
            last = self._operations[-1]
            self._operations[-1] = replace(
                last,
                method=method,
                body=body,
                bodies=tuple((bodies or {}).items()),
                errors=tuple(sorted({*last.errors, *(bodies or {})})),
            )
            return fn

        return register

    def _add(
        self,
        path: str,
        handler: Handler,
        documented: Callable[..., Any],
        response: Any,
        media_type: str,
        query: type[BaseModel] | None,
        errors: tuple[int, ...],
        positioned: bool,
        *,
        access: Access | None,
    ) -> None:
        access = access or self.access
        doc = inspect.cleandoc(documented.__doc__ or "")
        summary, _, description = doc.partition("\n")
        self._operations.append(
            Operation(
                path=path,
                handler=_counted(documented.__name__, handler),
                operation_id=documented.__name__,
                tag=self.tag,
                summary=summary.strip(),
                description=description.strip(),
                response=response,
                media_type=media_type,
                query=query,
                errors=tuple(sorted(set((*errors, *(access.statuses if access else ()))))),
                positioned=positioned,
                access=access,
            )
        )


def _counted(operation_id: str, handler: Handler) -> Handler:
    """Count every answer by status, errors included, for /metrics."""

    async def counted(request: web.Request) -> web.StreamResponse:
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            API_REQUESTS.labels(operation_id, str(exc.status)).inc()
            raise
        except Exception:
            API_REQUESTS.labels(operation_id, "500").inc()
            raise
        API_REQUESTS.labels(operation_id, str(response.status)).inc()
        return response

    return counted


def mount(app: web.Application, operations: list[Operation]) -> None:
    """Add every operation to the router, and the middleware that enforces their access.

    Raises :class:`ConfigError` naming any operation that declares no access:
    an unchecked route fails loudly here, not silently in production.
    """
    undeclared = [f"{op.method.upper()} {op.path}" for op in operations if op.access is None]
    if undeclared:
        raise ConfigError(
            f"REST operations without an access declaration: {undeclared}; "
            "pass access=PUBLIC, AUTHENTICATED, ADMIN, reads(...) or commands(...)"
        )
    guarded: dict[object, Guarded] = {}
    for op in operations:
        assert op.access is not None
        guarded[op.handler] = Guarded(op.operation_id, op.method, op.access)
    app.middlewares.append(middleware(guarded))
    for op in operations:
        if op.method == "get":
            app.router.add_get(op.path, op.handler)
        else:
            app.router.add_route(op.method.upper(), op.path, op.handler)
