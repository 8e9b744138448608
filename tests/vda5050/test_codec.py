"""What vehicles send is checked before anything reads it: each bad message gets its reason."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fleetcore.contract.vda5050 import Reason, Topic, Topics, VdaRejected, VehicleId, decode

VEHICLE = VehicleId("acme", "0001")


def connection(**changes: Any) -> dict[str, Any]:
    return {
        "headerId": 1,
        "timestamp": "2017-04-15T11:40:03.12Z",
        "version": "2.1.0",
        "manufacturer": "acme",
        "serialNumber": "0001",
        "connectionState": "ONLINE",
        **changes,
    }


def rejected(payload: bytes, topic: Topic = Topic.CONNECTION, max_bytes: int = 4096) -> VdaRejected:
    with pytest.raises(VdaRejected) as caught:
        decode(topic, VEHICLE, payload, max_bytes)
    return caught.value


def test_a_valid_message_of_2_0_or_2_1_is_taken() -> None:
    for version in ("2.0.0", "2.1.0"):
        message = decode(Topic.CONNECTION, VEHICLE, orjson.dumps(connection(version=version)), 4096)
        assert message.model_dump()["connectionState"] == "ONLINE"


@pytest.mark.parametrize(
    ("payload", "reason", "where"),
    [
        (b"{", Reason.MALFORMED_JSON, "message"),
        (b"[1, 2]", Reason.NOT_AN_OBJECT, "message"),
        (b'{"headerId": 1' + b", " * 3000 + b"}", Reason.MESSAGE_TOO_LARGE, "connection"),
        (orjson.dumps(connection(connectionState="GONE")), Reason.INVALID_FIELD, "connectionState"),
        (orjson.dumps(connection(headerId="1")), Reason.INVALID_FIELD, "headerId"),
        (orjson.dumps(connection(headerId=1.0)), Reason.INVALID_FIELD, "headerId"),
        (orjson.dumps(connection(headerId=2**32)), Reason.INVALID_FIELD, "headerId"),
        (orjson.dumps(connection(timestamp="yesterday")), Reason.INVALID_FIELD, "timestamp"),
        (orjson.dumps(connection(version="3.0.0")), Reason.UNSUPPORTED_VERSION, "3.0.0"),
        (orjson.dumps(connection(serialNumber="0002")), Reason.WRONG_VEHICLE, "acme/0002"),
        (
            orjson.dumps({k: v for k, v in connection().items() if k != "connectionState"}),
            Reason.INVALID_FIELD,
            "connectionState",
        ),
    ],
    ids=[
        "malformed",
        "array",
        "too-large",
        "unknown-enum",
        "string-for-integer",
        "float-for-integer",
        "beyond-uint32",
        "bad-timestamp",
        "version-3",
        "header-names-another-vehicle",
        "missing-field",
    ],
)
def test_a_bad_message_is_refused_with_its_reason(
    payload: bytes, reason: Reason, where: str
) -> None:
    error = rejected(payload)
    assert error.reason is reason
    assert where in error.detail


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"1e400"])
def test_a_non_finite_number_is_refused(token: bytes) -> None:
    state = b'{"x": ' + token + b', "y": 0, "theta": 0, "mapId": "L1", "positionInitialized": true}'
    payload = b'{"agvPosition": ' + state + b"}"
    error = rejected(payload, Topic.VISUALIZATION)
    assert error.reason is Reason.NON_FINITE_NUMBER
    assert "agvPosition.x" in error.detail


def test_topics_name_vehicle_and_topic_and_nothing_else() -> None:
    topics = Topics("uagv", "v2")
    assert topics.of(VEHICLE, Topic.ORDER) == "uagv/v2/acme/0001/order"
    assert topics.parse("uagv/v2/acme/0001/state") == (VEHICLE, Topic.STATE)
    for other in (
        "uagv/v1/acme/0001/state",
        "uagv/v2/acme/0001/unknown",
        "uagv/v2/acme/state",
        "x/v2/a/b/state",
    ):
        assert topics.parse(other) is None
