"""GraphQL requests generated from the checked-in SDL by schemathesis: none is a server error.

The embedded system with authentication on, as an administrator (who sees
and may do everything, so the generated queries reach every resolver).
Every answer must be no 5xx and carry no masked internal error: whatever a
client sends is answered with data or a refusal it caused. Bounded and
derandomized, like the REST fuzz run (tests/rest_api/test_openapi_fuzz.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestServer
from graphql import NameNode, ObjectFieldNode, ObjectValueNode, StringValueNode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.result import Ok
from schemathesis.graphql import nodes

from fleetcore.auth import users
from rest_api.access import AUTH_KEY
from rest_api.graphql.context import REST_CODES
from rest_api.graphql.schema import INTERNAL_ERROR, SDL_PATH

pytestmark = pytest.mark.integration


def _object(fields: dict[str, str]) -> ObjectValueNode:
    """A JSON object argument (a command's ``input``) as a GraphQL literal."""
    return ObjectValueNode(
        fields=tuple(
            ObjectFieldNode(name=NameNode(value=name), value=StringValueNode(value=value))
            for name, value in fields.items()
        )
    )


EXAMPLES = 6
"""Examples per root field."""
FUZZER = "graphql_fuzzer"

schemathesis.graphql.scalar("Long", st.integers(0, 2**62).map(nodes.Int))
schemathesis.graphql.scalar(
    "JSON",
    st.one_of(
        st.text(max_size=8).map(nodes.String),
        st.integers(-(2**31), 2**31).map(nodes.Int),
        st.dictionaries(
            st.sampled_from(["type", "task_id", "request", "mode"]), st.text(max_size=8), max_size=3
        ).map(_object),
    ),
)


def _fuzz(url: str, headers: dict[str, str]) -> list[str]:
    """Every root field's failures, one line each (run in a thread: the requests block)."""
    schema = schemathesis.graphql.from_file(SDL_PATH.read_text())
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"the SDL has an invalid operation: {result}"
            operation = result.ok()
            if operation.label.startswith("Subscription."):
                continue  # over HTTP a subscription is refused by design, not generated for

            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def check(case: Any) -> None:
                response = case.call(base_url=url, session=session, headers=headers, timeout=30)
                assert response.status_code < 500, response.text[:300]
                for error in response.json().get("errors") or []:
                    # Refused before it ran (syntax, validation: no path), or by a resolver
                    # with the code of what the client got wrong; never masked.
                    assert error["message"] != INTERNAL_ERROR, response.text[:300]
                    code = (error.get("extensions") or {}).get("code")
                    assert "path" not in error or code in REST_CODES.values(), error

            try:
                check()
            except BaseException as exc:
                failures.append(f"{operation.label}: {str(exc).strip().splitlines()[:6]}")
    return failures


async def test_no_generated_request_is_a_server_error(fuzzed_system: TestServer) -> None:
    await users.create_user(FUZZER, is_admin=True)
    token, _ = fuzzed_system.app[AUTH_KEY].verifier.issue(FUZZER, 3600)
    url = str(fuzzed_system.make_url("/graphql"))

    failures = await asyncio.to_thread(_fuzz, url, {"Authorization": f"Bearer {token}"})

    assert not failures, "\n".join(failures)
