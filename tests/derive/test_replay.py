"""A recorded input replayed on a fresh Deriver derives exactly the expected file."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.derive.replay import EXPECTED, INPUT, replay


def _lines(path: Path) -> list[bytes]:
    return [line for line in path.read_bytes().splitlines() if line]


def test_replaying_the_recorded_input_derives_the_expected_output() -> None:
    derived = replay(iter(_lines(INPUT)))
    expected = [orjson.loads(line) for line in _lines(EXPECTED)]
    assert derived == expected


def test_the_recording_covers_every_family_of_derivation() -> None:
    kinds = {d["event"]["kind"] for d in replay(iter(_lines(INPUT))) if "event" in d}
    assert {
        "robot_stale",
        "robot_offline",
        "robot_online",
        "robot_error",
        "task_reassigned",
    } <= kinds
