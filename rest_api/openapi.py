"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

All schemas are generated in one pass, so a model used by several routes is
one component. Query models become query parameters; each documented error
status gets its body's schema.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import metadata
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode
from pydantic_core import CoreSchema

from fleetcore.contract.limits import NAME_BYTES
from rest_api.access import PUBLIC
from rest_api.keys import DOCS_KEY, OPENAPI_KEY
from rest_api.models import CommandPending, ErrorBody, ValidationErrorBody
from rest_api.registry import ApiRoutes, Operation
from rest_api.responses import EPOCH_HEADER, SEQ_HEADER

REF = "#/components/schemas/{model}"
_PATH_PARAM = re.compile(r"\{(\w+)\}")

DESCRIPTION = f"""\
The REST API of fleethub, a real-time backend for Open-RMF fleets. Paths and JSON
shapes are rmf-web's api-server's, so its dashboard and api-client work unchanged.

**Snapshots carry their position.** Every state read answers with `{SEQ_HEADER}` and
`{EPOCH_HEADER}`: the point of the hub's publication stream the snapshot reflects. For
one latest value (a fleet's state, a door's state, the building map...) it is the seq of
the publication that set it; for lists and database queries it is the position read
*before* the query. Subscribing over socket.io with `{{"room": ..., "since": seq}}` then
delivers everything published after that point: nothing in between is missed, and an
update the snapshot already reflects may arrive once more, which applying updates in seq
order makes harmless. A different epoch than the one a client last saw means another hub
took over; reload the snapshot.

A REST path and the socket.io room of the same resource are one string.

**Media uploads** use tus 1.0 (core, creation, termination, checksum) at
`/media/uploads`, outside this document: tus defines those requests' headers and
statuses, and any tus client speaks them.
"""

PATH_PARAM = {"type": "string", "minLength": 1, "maxLength": NAME_BYTES}
"""A name in a path: no stored name is longer (in characters, so in bytes too)."""

_ERRORS: dict[int, tuple[str, type[BaseModel] | None]] = {
    201: ("Created.", None),
    202: ("RMF has not answered yet; the command's outcome is at its Location.", CommandPending),
    400: ("RMF refused the request; its errors are listed.", None),
    401: (
        "No valid bearer token; `detail` is the reason (missing_token, expired, bad_signature, "
        "wrong_audience, wrong_issuer, not_yet_valid, unknown_kid, malformed, "
        "disallowed_algorithm, unknown_user, revoked...).",
        ErrorBody,
    ),
    403: ("The user lacks the permission this operation needs on this object.", ErrorBody),
    404: ("No such resource.", ErrorBody),
    409: ("It exists already, or conflicts with what exists.", ErrorBody),
    413: ("The request body is over the configured limit.", ErrorBody),
    422: ("A query or body field is invalid; each bad field is listed.", ValidationErrorBody),
    429: ("Too many attempts from this address; retry after Retry-After seconds.", ErrorBody),
    503: (
        "Unavailable: the database or the bus is unreachable (retry after Retry-After), or a "
        "part this operation needs is missing; `detail` says which.",
        ErrorBody,
    ),
}

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]

routes = ApiRoutes("Documentation")


def _version() -> str:
    try:
        return metadata.version("fleethub")
    except metadata.PackageNotFoundError:
        # Run from a source tree that was never installed.
        return "0+unknown"


def build_document(operations: Sequence[Operation]) -> dict[str, Any]:
    inputs: list[tuple[Any, JsonSchemaMode, CoreSchema]] = []
    for index, op in enumerate(operations):
        if op.response is not None:
            inputs.append(((index, "response"), "serialization", _core(op.response)))
        if op.query is not None:
            inputs.append(((index, "query"), "validation", op.query.__pydantic_core_schema__))
        if op.body is not None:
            inputs.append(((index, "body"), "validation", op.body.__pydantic_core_schema__))
        for status, shape in op.bodies:
            inputs.append(((index, status), "serialization", _core(shape)))
    for status, (_, model) in _ERRORS.items():
        if model is not None:
            inputs.append(((status, "error"), "serialization", model.__pydantic_core_schema__))
    schemas, definitions = GenerateJsonSchema(ref_template=REF).generate_definitions(inputs)
    components: dict[str, Any] = {str(name): schema for name, schema in definitions.items()}

    paths: dict[str, dict[str, Any]] = {}
    for index, op in enumerate(operations):
        response_schema = schemas.get(((index, "response"), "serialization"))
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": PATH_PARAM}
            for name in _PATH_PARAM.findall(op.path)
        ]
        if op.query is not None:
            parameters += _query_parameters(op.query, components)
        operation: dict[str, Any] = {
            "operationId": op.operation_id,
            "tags": [op.tag],
            "summary": op.summary,
            "responses": _responses(index, op, response_schema, schemas),
        }
        access = op.access.describe() if op.access is not None else ""
        description = "\n\n".join(part for part in (op.description, access) if part)
        if description:
            operation["description"] = description
        operation["security"] = [] if op.access is not None and op.access.public else BEARER
        if parameters:
            operation["parameters"] = parameters
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": schemas[((index, "body"), "validation")]}
                },
            }
        paths.setdefault(op.path, {})[op.method] = operation
    for op in operations:
        # A query model is spelled out as parameters; no body uses it as a component.
        if op.query is not None:
            components.pop(op.query.__name__, None)

    return {
        "openapi": "3.1.0",
        "info": {"title": "fleethub REST API", "version": _version(), "description": DESCRIPTION},
        "tags": [{"name": tag} for tag in dict.fromkeys(op.tag for op in operations)],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "A token from POST /auth/token, or from the configured "
                    "OIDC provider.",
                }
            },
            "schemas": components,
            "headers": {
                SEQ_HEADER: {
                    "description": "The seq of the stream position this snapshot reflects.",
                    "schema": {"type": "integer", "minimum": 0},
                },
                EPOCH_HEADER: {
                    "description": "The hub's leadership epoch at that position.",
                    "schema": {"type": "integer", "minimum": 0},
                },
            },
        },
    }


def _core(response: Any) -> CoreSchema:
    return TypeAdapter(response).core_schema


def _query_parameters(model: type[BaseModel], components: dict[str, Any]) -> list[dict[str, Any]]:
    """One parameter per field of the query model's schema."""
    schema = components[model.__name__]
    required = set(schema.get("required", []))
    parameters = []
    for name, prop in schema["properties"].items():
        param_schema = {k: v for k, v in prop.items() if k not in ("title", "description")}
        default = param_schema.get("default")
        if not isinstance(default, str | int) or isinstance(default, bool):
            param_schema.pop("default", None)
        parameters.append(
            {
                "name": name,
                "in": "query",
                "required": name in required,
                "description": prop.get("description", ""),
                "schema": param_schema,
            }
        )
    return parameters


def _responses(
    index: int, op: Operation, response_schema: dict[str, Any] | None, schemas: dict[Any, Any]
) -> dict[str, Any]:
    if response_schema is None:
        binary = {"type": "string", "format": "binary"}
        textual = op.media_type.startswith("text/")
        response_schema = {"type": "string"} if textual else binary
    ok: dict[str, Any] = {
        "description": op.summary or "OK",
        "content": {op.media_type: {"schema": response_schema}},
    }
    if op.positioned:
        ok["headers"] = {
            name: {"$ref": f"#/components/headers/{name}"} for name in (SEQ_HEADER, EPOCH_HEADER)
        }
    responses: dict[str, Any] = {"200": ok}
    # Any operation may meet an outage, any body may be too large (fleetcore.http_guard), and
    # a path may name nothing stored (rest_api.failures).
    statuses = {*op.errors, 503}
    if op.body is not None:
        statuses.add(413)
    if _PATH_PARAM.search(op.path):
        statuses.add(404)
    for status in sorted(statuses):
        description, model = _ERRORS[status]
        body = schemas.get(((index, status), "serialization"))
        if body is None:
            body = schemas[((status, "error"), "serialization")] if model else response_schema
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": body}},
        }
    return responses


@routes.get("/openapi.json", response=dict[str, Any], access=PUBLIC)
async def get_openapi(request: web.Request) -> web.Response:
    """This document."""
    return web.Response(body=request.app[OPENAPI_KEY], content_type="application/json")


@routes.get("/docs", response=None, media_type="text/html", access=PUBLIC)
async def get_docs(request: web.Request) -> web.Response:
    """A page listing every operation, rendered from this document; it loads nothing else."""
    return web.Response(text=request.app[DOCS_KEY], content_type="text/html")
