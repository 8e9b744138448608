"""The one backoff every retry loop uses: doubling, capped, jittered, reset by a success."""

from __future__ import annotations

import random

import pytest

from fleetcore.backoff import Backoff


def test_each_wait_is_between_half_and_all_of_a_step_that_doubles_up_to_the_cap() -> None:
    backoff = Backoff(0.1, 1.0, rng=random.Random(1))
    steps = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    for step in steps:
        assert step / 2 <= backoff.next() <= step


def test_a_success_brings_the_wait_back_to_the_first_step() -> None:
    backoff = Backoff(0.1, 1.0)
    for _ in range(10):
        backoff.next()
    backoff.reset()
    assert backoff.next() <= 0.1


def test_waits_are_jittered() -> None:
    waits = {Backoff(1.0, 1.0, rng=random.Random(seed)).next() for seed in range(20)}
    assert len(waits) == 20


@pytest.mark.parametrize(("initial_s", "max_s"), [(0.0, 1.0), (2.0, 1.0), (-1.0, 1.0)])
def test_a_backoff_needs_a_positive_first_step_no_larger_than_the_cap(
    initial_s: float, max_s: float
) -> None:
    with pytest.raises(ValueError, match="0 < initial_s <= max_s"):
        Backoff(initial_s, max_s)
