"""A fleet state's publication is the fleet state's JSON, its unchanged robots not encoded again."""

from __future__ import annotations

from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from fleetcore.contract import rmf
from fleetcore.contract.robot_reuse import RobotReuse
from hub import encoding
from hub.encoding import FleetJson, dump

NAMES = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=8)
EXTRAS = st.dictionaries(
    st.sampled_from(["vendor", "note", "z"]),
    st.one_of(
        st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False), NAMES
    ),
    max_size=2,
)


def _robot(x: float, extras: dict[str, Any]) -> dict[str, Any]:
    return {"status": "idle", "location": {"map": "L1", "x": x, "y": 2.0, "yaw": 0.0}, **extras}


def _robots(names: list[str], x: float, extras: dict[str, Any]) -> dict[str, Any]:
    return {name: _robot(x, extras) for name in names}


@settings(max_examples=60, deadline=None)
@given(
    fleet=NAMES,
    names=st.lists(NAMES, min_size=1, max_size=6, unique=True),
    extras=EXTRAS,
    fleet_extras=EXTRAS,
    moves=st.lists(st.lists(st.booleans(), min_size=6, max_size=6), min_size=1, max_size=4),
)
def test_a_fleet_state_encodes_as_it_does_whole(
    fleet: str,
    names: list[str],
    extras: dict[str, Any],
    fleet_extras: dict[str, Any],
    moves: list[list[bool]],
) -> None:
    reuse, fleets = RobotReuse(), FleetJson()
    robots = _robots(names, 1.0, extras)
    for step, moved in enumerate(moves, 1):
        for name, move in zip(names, moved, strict=False):
            if move:
                robots[name] = _robot(float(step), extras)
        state = reuse.validate({"name": fleet, "robots": dict(robots), **fleet_extras})
        assert fleets.encode(state) == dump(state)


def test_a_fleet_state_without_robots_encodes_as_it_does_whole() -> None:
    state = rmf.FleetState.model_validate({"name": "f", "vendor": 1})
    assert FleetJson().encode(state) == dump(state) == b'{"name":"f","vendor":1}'


def test_only_the_changed_robot_of_a_fleet_state_is_encoded_again() -> None:
    reuse, fleets = RobotReuse(), FleetJson()
    robots = _robots(["a", "b", "c"], 1.0, {})
    for _ in range(2):
        fleets.encode(reuse.validate({"name": "f", "robots": dict(robots)}))
    robots["b"] = _robot(5.0, {})
    state = reuse.validate({"name": "f", "robots": robots})
    with mock.patch.object(encoding, "_one_robot", wraps=encoding._one_robot) as encoded:
        assert fleets.encode(state) == dump(state)
    assert [call.args[0] for call in encoded.call_args_list] == ["b"]
