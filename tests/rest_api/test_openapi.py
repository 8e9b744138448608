"""The OpenAPI document and the offline docs page describe every route the app serves."""

from __future__ import annotations

import re

import pytest

from fleetcore.bus.memory import InMemoryBus
from fleetcore.media import MEDIA_UPLOADS_PATH
from fleetcore.settings import Settings
from rest_api.app import create_app
from rest_api.graphql.context import GRAPHQL_PATH
from tests.rest_api.conftest import Client


def _served_routes() -> set[tuple[str, str]]:
    """Every route but the tus upload protocol's (its headers and statuses are tus's, not ours)."""
    app = create_app(Settings(auth_mode="off"), InMemoryBus(), manage_database=False)
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and not route.resource.canonical.startswith(MEDIA_UPLOADS_PATH)
        # GraphQL's schema is its document: /graphql/schema.graphql.
        and not route.resource.canonical.startswith(GRAPHQL_PATH)
    }


async def test_openapi_is_a_valid_openapi_3_document(client: Client) -> None:
    validator = pytest.importorskip("openapi_spec_validator")
    document = await (await client.get("/openapi.json")).json()

    validator.validate(document)
    assert document["openapi"].startswith("3.")


async def test_openapi_documents_every_route_the_router_has(client: Client) -> None:
    document = await (await client.get("/openapi.json")).json()
    documented = {
        (method, path) for path, methods in document["paths"].items() for method in methods
    }

    assert _served_routes() == documented


async def test_openapi_documents_snapshot_positions(client: Client) -> None:
    document = await (await client.get("/openapi.json")).json()
    fleet_state = document["paths"]["/fleets/{name}/state"]["get"]["responses"]

    assert "X-Fleethub-Seq" in fleet_state["200"]["headers"]
    assert "since" in document["info"]["description"]
    assert fleet_state["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


async def test_openapi_query_parameters_come_from_the_query_models(client: Client) -> None:
    document = await (await client.get("/openapi.json")).json()
    parameters = {
        param["name"]: param for param in document["paths"]["/tasks"]["get"]["parameters"]
    }

    assert {"task_id", "status", "label", "order_by", "limit", "offset"} <= set(parameters)
    assert parameters["limit"]["schema"]["maximum"] == 1000
    assert "422" in document["paths"]["/tasks"]["get"]["responses"]


async def test_docs_page_lists_every_operation_and_loads_nothing(client: Client) -> None:
    response = await client.get("/docs")
    page = await response.text()

    assert response.content_type == "text/html"
    for _, path in _served_routes():
        assert f"<code class=path>{path}</code>" in page
    assert not re.search(r"<script|<link|src=|@import|https?://", page)
