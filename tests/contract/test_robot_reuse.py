"""A fleet state's unchanged robots are taken from the last one; everything else is validated."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from fleetcore.contract.robot_reuse import RobotReuse


def _robot(name: str, x: float = 1.0, battery: float = 0.5) -> dict[str, Any]:
    return {
        "name": name,
        "status": "idle",
        "battery": battery,
        "location": {"map": "L1", "x": x, "y": 2.0, "yaw": 0.0},
        "vendor": {"kept": True},
    }


def _fleet(**robots: dict[str, Any]) -> dict[str, Any]:
    return {"name": "f", "robots": robots}


def test_an_unchanged_robot_is_the_same_state_and_a_changed_one_a_new_one() -> None:
    reuse = RobotReuse()
    first = reuse.validate(_fleet(a=_robot("a"), b=_robot("b")))
    second = reuse.validate(_fleet(a=_robot("a"), b=_robot("b", x=3.0)))
    assert second.robots["a"] is first.robots["a"]
    assert second.robots["b"] is not first.robots["b"]
    assert second.robots["b"].location is not None and second.robots["b"].location.x == 3.0
    assert second.model_dump(exclude_unset=True) == _fleet(a=_robot("a"), b=_robot("b", x=3.0))


def test_robots_keep_the_order_sent_when_some_are_reused() -> None:
    reuse = RobotReuse()
    reuse.validate(_fleet(a=_robot("a"), b=_robot("b"), c=_robot("c")))
    state = reuse.validate(_fleet(a=_robot("a", x=5.0), b=_robot("b"), c=_robot("c", x=5.0)))
    assert list(state.robots) == ["a", "b", "c"]


def test_a_robot_unchanged_for_several_states_keeps_its_first_state() -> None:
    reuse = RobotReuse()
    first = reuse.validate(_fleet(a=_robot("a")))
    for _ in range(3):
        assert reuse.validate(_fleet(a=_robot("a"))).robots["a"] is first.robots["a"]


def test_json_that_compares_equal_but_is_not_the_same_is_validated_again() -> None:
    reuse = RobotReuse()
    reuse.validate(_fleet(a=_robot("a", battery=1.0)))
    state = reuse.validate(_fleet(a={**_robot("a", battery=1.0), "vendor": {"kept": 1}}))
    assert state.model_dump(exclude_unset=True)["robots"]["a"]["vendor"] == {"kept": 1}


def test_robots_are_remembered_per_fleet() -> None:
    reuse = RobotReuse()
    first = reuse.validate(_fleet(a=_robot("a")))
    other = reuse.validate({"name": "g", "robots": {"a": _robot("a")}})
    assert other.robots["a"] is not first.robots["a"]


def test_an_invalid_robot_is_refused_every_time_and_never_remembered() -> None:
    reuse = RobotReuse()
    bad = _fleet(a=_robot("a", battery=2.0))
    for _ in range(2):
        with pytest.raises(ValidationError) as refused:
            reuse.validate(bad)
        assert refused.value.errors()[0]["loc"] == ("robots", "a", "battery")


def test_a_remembered_robot_does_not_let_an_invalid_name_through() -> None:
    reuse = RobotReuse()
    reuse.validate(_fleet(a=_robot("a")))
    with pytest.raises(ValidationError):
        reuse.validate({"name": "", "robots": {"a": _robot("a")}})


def test_what_is_remembered_is_bounded() -> None:
    reuse = RobotReuse(max_robots=3)
    first = reuse.validate(_fleet(a=_robot("a"), b=_robot("b")))
    reuse.validate({"name": "g", "robots": {"c": _robot("c"), "d": _robot("d")}})
    again = reuse.validate(_fleet(a=_robot("a"), b=_robot("b")))
    assert again.robots["a"] is not first.robots["a"]
