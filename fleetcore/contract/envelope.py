"""The publication envelope: what the hub publishes and every reader receives.

``data`` travels as already-encoded JSON bytes: the hub encodes each value
once, and the proxy and the REST readers splice those bytes into what they
send instead of encoding them again per client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """A point in the hub's publication stream.

    ``seq`` is the hub's one counter over all rooms (persisted, so it continues
    across restarts). ``epoch`` is the hub's leadership term: it changes when
    another hub takes over, which tells a client that a takeover happened.
    """

    seq: int
    epoch: int


@dataclass(frozen=True, slots=True)
class Publication:
    room: str
    seq: int
    epoch: int
    received_ms: int
    data_json: bytes

    @property
    def position(self) -> StreamPosition:
        return StreamPosition(self.seq, self.epoch)

    def data(self) -> Any:
        return orjson.loads(self.data_json)

    def envelope_json(self) -> bytes:
        """The whole envelope, for clients that asked for envelopes and for the bus."""
        return orjson.dumps(
            {
                "room": self.room,
                "seq": self.seq,
                "epoch": self.epoch,
                "received_ms": self.received_ms,
                "data": orjson.Fragment(self.data_json),
            }
        )

    @classmethod
    def from_envelope_json(cls, raw: bytes | str) -> Publication:
        env = orjson.loads(raw)
        return cls(
            room=env["room"],
            seq=int(env["seq"]),
            epoch=int(env["epoch"]),
            received_ms=int(env["received_ms"]),
            data_json=orjson.dumps(env["data"]),
        )
