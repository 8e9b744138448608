"""Response shapes that are the API's own rather than RMF's, for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

NoContent = type(None)
"""The response of a change that answers ``null`` (as rmf-web's do)."""


class Dispenser(BaseModel):
    """An entry of ``GET /dispensers``, as rmf-web lists them."""

    guid: str


class Ingestor(BaseModel):
    """An entry of ``GET /ingestors``, as rmf-web lists them."""

    guid: str


class ErrorBody(BaseModel):
    """Why a request failed (404 and other errors)."""

    detail: str


class FieldError(BaseModel):
    """One bad query field: where, what was wrong, and the value given."""

    loc: list[str | int]
    msg: str
    type: str
    input: Any = None


class ValidationErrorBody(BaseModel):
    """A 422: every bad field of the request, FastAPI's shape."""

    detail: list[FieldError]


class Health(BaseModel):
    status: str
    problems: list[str] = []


class CommandPending(BaseModel):
    """A 202: the command is recorded or queued, RMF has not answered within the wait."""

    command: str
    """The idempotency key; ``GET /commands/{command}`` gives the outcome."""
    status: str
