"""Which task API responses the bridge forwards (pure: no ROS needed)."""

from __future__ import annotations

from ros_bridge.responses import TYPE_ACKNOWLEDGE, ResponseTracker

RESPONDING = 2


def test_the_first_final_answer_to_an_own_request_is_admitted_once() -> None:
    tracker = ResponseTracker()
    tracker.expect("r1")
    assert tracker.admit("r1", RESPONDING)
    assert not tracker.admit("r1", RESPONDING)
    assert tracker.stats.forwarded == 1
    assert tracker.stats.duplicate == 1


def test_an_acknowledgement_keeps_the_request_pending() -> None:
    tracker = ResponseTracker()
    tracker.expect("r1")
    assert not tracker.admit("r1", TYPE_ACKNOWLEDGE)
    assert tracker.admit("r1", RESPONDING)
    assert tracker.stats.acknowledged == 1


def test_an_answer_to_a_request_nobody_here_sent_is_unknown() -> None:
    tracker = ResponseTracker()
    assert not tracker.admit("someone-elses", RESPONDING)
    assert tracker.stats.unknown == 1


def test_the_oldest_pending_request_is_forgotten_past_the_bound() -> None:
    tracker = ResponseTracker(max_tracked=2)
    for request_id in ("r1", "r2", "r3"):
        tracker.expect(request_id)
    assert not tracker.admit("r1", RESPONDING)
    assert tracker.admit("r3", RESPONDING)
