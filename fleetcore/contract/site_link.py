"""The acknowledged site link: how a site learns which of its frames the hub has made durable.

RMF's fleet adapters (``BroadcastClient``) push frames to ``/_internal`` and
count a frame delivered once their socket write returns; a frame written
into a hub that hangs is lost. A site that can do better opts in with a
``hello`` as its first frame, and from then on:

- The site connects with ``?hello=1`` in its URL (besides ``token``): its
  first frame will be a hello, so the hub sends it no command before it
  knows what the site serves.
- ``hello``, site → hub: ``{"type": "hello", "data": {"session", "serves"}}``.
  ``session`` names the site's link for as long as the site process lives
  (it outlives reconnects and hub failovers); ``serves`` says which commands
  the site performs and for which fleets, doors and lifts (:class:`Serves`).
- ``welcome``, hub → site: ``{"type": "welcome", "data": {"session", "max_frame_bytes"}}``;
  the site sends nothing else before it.
- **Numbered frames**, site → hub: a frame the site must not lose (a log
  entry, a command's answer) carries its number first, ``{"n": 17, "type":
  ..., "data": ...}``, numbers rising by one per numbered frame over the
  session. Other frames (states, which the next one replaces) go unnumbered,
  as before.
- ``ack``, hub → site: ``{"type": "ack", "data": {"n": 17}}``: every numbered
  frame up to 17 is durable (committed with the rows it made, its command's
  answer recorded, or refused for good, in which case the refusal came
  first, ``{"error", "detail", "n"}``). The site keeps what is not acked and
  sends it again after a reconnect; the hub drops a frame it has committed
  already, by the session's number that it commits in the same transaction.

The number comes first in the frame so that the hub reads it without
parsing the frame, even one it refuses as too large or malformed.
"""

from __future__ import annotations

import re
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from fleetcore.contract.ingest import Reason
from fleetcore.errors import IngestRejected

HELLO = "hello"
HELLO_QUERY = "hello"
"""The query parameter (``?hello=1``) by which a site says at connect that a hello comes first."""
WELCOME = "welcome"
ACK = "ack"
REPLACED = 4000
"""The close code of a connection whose session a newer connection of its site took over."""

_Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
_MAX_NAMES = 10_000


class Serves(BaseModel):
    """What a site performs the hub's commands for; the hub routes each command by it.

    ``commands`` are the command kinds the site acts on
    (:class:`~fleetcore.contract.commands.CommandKind` values; unknown ones are
    ignored). ``fleets``, ``doors`` and ``lifts`` name what it owns; the hub
    also learns them from the states the site sends. See :mod:`hub.rmf_gateway`.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    commands: tuple[Annotated[str, StringConstraints(max_length=64)], ...] = Field(
        default=(), max_length=64
    )
    dispatcher: bool = False
    """Whether it hands task requests to a dispatcher that picks the fleet itself (RMF's,
    through ros_bridge; the simulator's). A dispatch naming no fleet, and a command for a
    fleet, task, door or lift no site reported, go to such sites first."""
    bids: bool = False
    """Whether it bids for a dispatch naming no fleet (the VDA 5050 master control): it gets
    such a dispatch before the dispatchers, and takes it or declines it
    (:func:`~fleetcore.contract.commands.decline`), and then the dispatchers get it."""
    alert_responses: bool = False
    """Whether the site relays operators' answers to RMF's alerts (``alert_response`` frames)."""
    fleets: tuple[_Name, ...] = Field(default=(), max_length=_MAX_NAMES)
    doors: tuple[_Name, ...] = Field(default=(), max_length=_MAX_NAMES)
    lifts: tuple[_Name, ...] = Field(default=(), max_length=_MAX_NAMES)


class Hello(BaseModel):
    model_config = ConfigDict(extra="ignore")

    session: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    serves: Serves = Serves()


def hello_frame(session: str, serves: Serves) -> bytes:
    data = {"session": session, "serves": serves.model_dump(mode="json")}
    return orjson.dumps({"type": HELLO, "data": data})


def parse_hello(raw: bytes | str) -> Hello | None:
    """The hello a frame carries; None if it is no hello. Raises :class:`IngestRejected` for a bad one."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or doc.get("type") != HELLO:
        return None
    try:
        return Hello.model_validate(doc.get("data"))
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        location = ".".join(str(part) for part in ("data", *first["loc"]))
        raise IngestRejected(Reason.INVALID_FIELD, f"{location}: {first['msg']}") from None


def welcome_frame(session: str, max_frame_bytes: int) -> bytes:
    data = {"session": session, "max_frame_bytes": max_frame_bytes}
    return orjson.dumps({"type": WELCOME, "data": data})


def ack_frame(number: int) -> bytes:
    return orjson.dumps({"type": ACK, "data": {"n": number}})


def number_frame(number: int, frame: bytes) -> bytes:
    """``frame`` (a JSON object with its members) with its number first; ValueError for anything else."""
    if not frame.startswith(b"{") or frame.lstrip(b"{ \t\r\n").startswith(b"}"):
        raise ValueError("a numbered frame must be a JSON object with members")
    return b'{"n":%d,' % number + frame[1:]


_NUMBER = re.compile(rb'\{"n":(\d{1,18}),')


def frame_number(raw: bytes | str) -> int | None:
    """The number a frame starts with, or None for an unnumbered frame."""
    head = raw[:32].encode() if isinstance(raw, str) else raw[:32]
    found = _NUMBER.match(head)
    return int(found.group(1)) if found else None
