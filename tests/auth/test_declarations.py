"""Access is declared per router or operation: mounting refuses a route without it, OpenAPI documents it."""

from __future__ import annotations

import pytest
from aiohttp import web

from fleetcore.errors import ConfigError
from rest_api import openapi
from rest_api.access import ADMIN, PUBLIC
from rest_api.app import ROUTE_TABLES
from rest_api.registry import ApiRoutes, mount
from rest_api.responses import json_body


def test_mounting_an_operation_without_an_access_declaration_fails_loudly() -> None:
    routes = ApiRoutes("Test")

    @routes.get("/forgotten", response=int)
    async def get_forgotten(request: web.Request) -> web.Response:
        """A route whose author forgot to say who may call it."""
        return json_body(1)

    with pytest.raises(ConfigError, match="GET /forgotten"):
        mount(web.Application(), list(routes))


def test_an_operation_has_its_routers_access_unless_it_declares_its_own() -> None:
    routes = ApiRoutes("Test", access=ADMIN)

    @routes.get("/settings", response=int)
    async def get_settings(request: web.Request) -> web.Response:
        """An admin's page, as its router says."""
        return json_body(1)

    @routes.get("/status", response=int, access=PUBLIC)
    async def get_status(request: web.Request) -> web.Response:
        """The one page of the router anyone may read."""
        return json_body(1)

    access = {op.operation_id: op.access for op in routes}
    assert access == {"get_settings": ADMIN, "get_status": PUBLIC}
    assert 403 in next(op for op in routes if op.access == ADMIN).errors


def test_openapi_requires_a_bearer_token_everywhere_but_on_public_operations() -> None:
    operations = [op for table in ROUTE_TABLES for op in table]
    document = openapi.build_document(operations)
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for op in operations:
        documented = document["paths"][op.path][op.method]
        assert op.access is not None
        if op.access.public:
            assert documented["security"] == [], op.operation_id
        else:
            assert documented["security"] == [{"bearer": []}], op.operation_id
            assert "401" in documented["responses"], op.operation_id
        if op.access.admin or op.access.required:
            assert "403" in documented["responses"], op.operation_id


def test_the_declarations_name_public_and_admin_operations_as_intended() -> None:
    access = {op.operation_id: op.access for table in ROUTE_TABLES for op in table}
    assert access["post_token"] == PUBLIC and access["get_healthz"] == PUBLIC
    assert access["get_audit"] == ADMIN and access["create_user"] == ADMIN
