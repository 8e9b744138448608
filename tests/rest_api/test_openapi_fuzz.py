"""The REST API keeps its own OpenAPI document: schemathesis drives every operation from it.

Requests are generated from the document served at ``/openapi.json`` of an
embedded system with authentication on, as an administrator: valid ones
(positive) and ones that break the document (negative). Every answer must
be no 5xx, a status the operation documents, in the documented content type,
with a body and headers its schema for that status describes, and no
operation may answer 2xx to a request with a forged token.

Two checks schemathesis also has are left out on purpose: that every
request the schemas allow is accepted, and every one they forbid refused.
Some rules cannot be written in JSON Schema (a range that starts after it
ends, a permission or a security group that must exist), so a valid-looking
request is rightly refused with a specific 4xx, which these checks would
flag.

Bounded and derandomized (the same examples every run): a few examples per
operation and mode keep the run to about a minute.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from fleetcore.auth import users
from rest_api.access import AUTH_KEY

pytestmark = pytest.mark.integration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
]
EXAMPLES = 8
"""Examples per operation and mode."""
FUZZER = "fuzzer"


async def _bearer(fuzzed_system: TestServer) -> dict[str, str]:
    await users.create_user(FUZZER, is_admin=True)
    token, _ = fuzzed_system.app[AUTH_KEY].verifier.issue(FUZZER, 3600)
    return {"Authorization": f"Bearer {token}"}


def _fuzz(base: str, headers: dict[str, str], mode: GenerationMode) -> list[str]:
    """Every operation's failures, one line each (run in a thread: the requests block)."""
    document = requests.get(f"{base}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), f"our document has an invalid operation: {result}"
            operation = result.ok()

            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                response = case.call(base_url=base, session=session, headers=headers, timeout=30)
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                check()
            except Unsatisfiable:
                pass  # nothing to break: an operation without parameters or body
            except BaseException as exc:
                failures.append(f"{operation.label}: {_first_lines(exc)}")
    return failures


def _first_lines(exc: BaseException) -> str:
    return " | ".join(str(exc).strip().splitlines()[:8])


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
async def test_every_answer_is_documented_and_none_is_a_server_error(
    fuzzed_system: TestServer, mode: GenerationMode
) -> None:
    headers = await _bearer(fuzzed_system)
    base = str(fuzzed_system.make_url("")).rstrip("/")

    failures: list[Any] = await asyncio.to_thread(_fuzz, base, headers, mode)

    assert not failures, "\n".join(failures)
