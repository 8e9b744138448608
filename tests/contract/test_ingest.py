"""Decoding ingest frames: accepted as RMF sends them, rejected with a specific reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fleetcore.contract import ingest
from fleetcore.contract.ingest import IngestLimits, IngestType, Reason, decode, encode
from fleetcore.contract.rmf import FleetState
from fleetcore.errors import IngestRejected

SAMPLES = Path(__file__).parent / "samples"


def frame(type_: str, data: object) -> str:
    return json.dumps({"type": type_, "data": data})


DEFAULT_LIMITS = IngestLimits()


def rejection(raw: str | bytes, limits: IngestLimits = DEFAULT_LIMITS) -> IngestRejected:
    with pytest.raises(IngestRejected) as caught:
        decode(raw, limits)
    return caught.value


def test_an_rmf_fleet_state_update_is_accepted() -> None:
    msg = decode(
        frame("fleet_state_update", {"name": "f", "robots": {"r": {"name": "r", "battery": 0.5}}})
    )
    assert msg.type is IngestType.FLEET_STATE
    assert msg.data.name == "f" and msg.data.robots["r"].battery == 0.5


def test_the_rmf_task_state_sample_is_accepted() -> None:
    sample = json.loads((SAMPLES / "task_state.json").read_text())
    msg = decode(frame("task_state_update", sample))
    assert msg.data.booking.id == sample["booking"]["id"]


def test_the_rmf_task_log_sample_is_accepted() -> None:
    sample = json.loads((SAMPLES / "task_log.json").read_text())
    assert decode(frame("task_log_update", sample)).data.task_id == sample["task_id"]


def test_unknown_fields_are_kept_for_newer_rmf_versions() -> None:
    msg = decode(
        frame("door_state_update", {"door_name": "d", "current_mode": {"value": 2}, "new": 1})
    )
    assert msg.data.model_dump()["new"] == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("{", Reason.MALFORMED_JSON),
        ("[]", Reason.NOT_AN_OBJECT),
        (frame("launch_rocket", {}), Reason.UNKNOWN_TYPE),
        ('{"data": {}}', Reason.UNKNOWN_TYPE),
        (frame("fleet_state_update", []), Reason.INVALID_FIELD),
        (
            '{"type":"fleet_state_update","data":{"name":"f","robots":{"r":{"battery":NaN}}}}',
            Reason.NON_FINITE_NUMBER,
        ),
        (
            '{"type":"fleet_state_update","data":{"name":"f","robots":{"r":{"battery":-Infinity}}}}',
            Reason.NON_FINITE_NUMBER,
        ),
        (
            '{"type":"fleet_state_update","data":{"name":"f","robots":{"r":{"location":{"map":"L1","x":1e999,"y":0,"yaw":0}}}}}',
            Reason.NON_FINITE_NUMBER,
        ),
        (
            frame("fleet_state_update", {"name": "f", "robots": {"": {"name": ""}}}),
            Reason.INVALID_FIELD,
        ),
        (frame("fleet_state_update", {"name": ""}), Reason.INVALID_FIELD),
        (
            frame("fleet_state_update", {"name": "f", "robots": {"r": {"battery": 1.5}}}),
            Reason.INVALID_FIELD,
        ),
        (frame("task_state_update", {"status": "queued"}), Reason.INVALID_FIELD),
    ],
)
def test_bad_frames_are_rejected_with_their_reason(raw: str, reason: Reason) -> None:
    assert rejection(raw).reason == reason


def test_the_detail_names_the_offending_field() -> None:
    detail = rejection(
        frame("fleet_state_update", {"name": "f", "robots": {"r": {"battery": 2}}})
    ).detail
    assert detail.startswith("data.robots.r.battery:")


def test_frames_over_the_limit_are_rejected_but_maps_may_be_larger() -> None:
    limits = IngestLimits(max_frame_bytes=1000, max_map_bytes=100_000)
    big_fleet = frame("fleet_state_update", {"name": "f", "pad": "x" * 2000})
    assert rejection(big_fleet, limits).reason == Reason.FRAME_TOO_LARGE
    big_map = frame("building_map_update", {"name": "m", "levels": [], "pad": "x" * 2000})
    assert decode(big_map, limits).type is IngestType.BUILDING_MAP
    assert (
        rejection(frame("building_map_update", {"name": "m", "pad": "x" * 200_000}), limits).reason
        == Reason.FRAME_TOO_LARGE
    )


SMALL = IngestLimits(max_frame_bytes=1000, max_map_bytes=100_000)
PAD = "x" * 2000


def test_a_large_map_is_taken_whether_its_type_comes_first_or_last() -> None:
    data = json.dumps({"name": "m", "levels": [], "pad": PAD})
    for raw in (
        f'{{"type": "building_map_update", "data": {data}}}',
        f'{{"data":{data},"type":"building_map_update"}}',
        f' {{\n  "data": {data},\n  "type" : "building_map_update"\n}}\n',
    ):
        assert decode(raw, SMALL).type is IngestType.BUILDING_MAP


def test_a_frame_over_its_type_limit_is_refused_before_it_is_parsed() -> None:
    # Truncated JSON: parsed, it would be malformed; refused first for its size.
    for raw in (
        '{"type": "fleet_state_update", "data": {"pad": "' + PAD,
        '{"data": {"pad": "' + PAD + '"}, "type": "fleet_state_update"',
    ):
        assert rejection(raw, SMALL).reason == Reason.FRAME_TOO_LARGE


@pytest.mark.parametrize(
    "raw",
    [
        # A nested "type" is not the frame's, first or last.
        '{"type":"fleet_state_update","data":{"type":"building_map_update","pad":"' + PAD + '"}}',
        '{"data":{"pad":"' + PAD + '","type":"building_map_update"},"type":"fleet_state_update"}',
        '{"data":{"pad":"' + PAD + '","type":"building_map_update"}}',
        '{"data":{"pad":"' + PAD + '"},"type":"building_map_update","more":1}',
    ],
)
def test_only_the_frames_own_type_lets_a_large_frame_in(raw: str) -> None:
    rejection_ = rejection(raw, SMALL)
    assert rejection_.reason == Reason.FRAME_TOO_LARGE
    assert "named by the frame's first or last member" in rejection_.detail


def nested(depth: int) -> str:
    """A task state whose ``detail`` makes the frame ``depth`` levels deep."""
    inner = "[" * (depth - 2) + "]" * (depth - 2)
    return f'{{"type":"task_state_update","data":{{"booking":{{"id":"t"}},"detail":{inner}}}}}'


def test_a_frame_at_the_depth_limit_is_accepted() -> None:
    assert decode(nested(ingest.MAX_DEPTH)).type is IngestType.TASK_STATE


@pytest.mark.parametrize("depth", [ingest.MAX_DEPTH + 1, 256, 1100, 100_000])
def test_a_frame_nested_deeper_is_refused_as_too_deep(depth: int) -> None:
    refused = rejection(nested(depth), IngestLimits(max_frame_bytes=1 << 20))
    assert refused.reason == Reason.TOO_DEEP
    assert refused.detail == f"nested deeper than {ingest.MAX_DEPTH} levels of objects and arrays"


def test_encode_produces_what_decode_accepts() -> None:
    state = FleetState(name="f", robots={})
    decoded = decode(encode(IngestType.FLEET_STATE, state)).data
    assert (decoded.name, decoded.robots) == (state.name, state.robots)
    assert ingest.MODELS.keys() == set(IngestType)
