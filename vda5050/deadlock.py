"""Deadlocks in traffic control: robots waiting on each other in a cycle, and a way out.

The wait-for graph has an edge from each robot stopped at its decision
point to the robot that holds the node or lane it needs
(:attr:`vda5050.traffic.Traffic.waits`). A robot waits on at most one
other, so each weakly connected part has at most one cycle, found by
walking the edges. A cycle never clears by itself: each robot holds what
the next one needs. The master control breaks it by moving one robot of
the cycle:

- **re-route**: a route from its decision point to its goals that takes no
  node or lane another robot holds (:func:`passable`); or else
- **yield**: it drives to the nearest side node off the path of the robot
  waiting on it (:func:`side_path`), gives that robot way, and goes on.

A robot that waits on one *without* an order (parked, idle) is not a
deadlock but would wait forever all the same: the parked robot is sent to a
side node the same way. When the waiting robot itself holds the parked
one's only way out (the parked robot ended its task in a dead end the other
drove up to), the waiting robot yields first: it backs off to a side node
off that way out and claims it again only once the parked robot has left.

Pure: the master control applies what these return.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from vda5050.graph import Lane, NavGraph
from vda5050.traffic import Traffic, Wait, lane_key, node_key


def cycles(waits: Mapping[str, Wait]) -> list[list[str]]:
    """Every cycle of the wait-for graph, each in wait order (a waits on b waits on ... a).

    A robot on its way to the side node it yields at is already the way out
    of one: its wait is no edge (once it stands there, it is).
    """
    waits = {robot: wait for robot, wait in waits.items() if not wait.giving_way}
    found: list[list[str]] = []
    seen: set[str] = set()
    for start in sorted(waits):
        walk: list[str] = []
        at: dict[str, int] = {}
        robot = start
        while robot in waits and robot not in seen and robot not in at:
            at[robot] = len(walk)
            walk.append(robot)
            robot = waits[robot].holder
        if robot in at:
            found.append(walk[at[robot] :])
        seen.update(walk)
    return found


def passable(
    traffic: Traffic, robot: str, ignoring: Collection[str] = ()
) -> Callable[[Lane], bool]:
    """For :meth:`NavGraph.route`'s ``blocked``: a lane or its end held by another robot.

    What ``ignoring`` holds counts as free: it is asked to move out of the way, or drives on.
    """

    def blocked(lane: Lane) -> bool:
        for resource in (lane_key(lane.start, lane.end), node_key(lane.end)):
            holder = traffic.owner.get(resource)
            if holder is not None and holder != robot and holder not in ignoring:
                return True
        return False

    return blocked


def side_path(
    graph: NavGraph,
    traffic: Traffic,
    robot: str,
    start: str,
    keep_clear: set[str],
    ignoring: Collection[str] = (),
) -> list[str] | None:
    """The nodes from ``start`` to the nearest node not in ``keep_clear`` that ``robot`` can reach.

    Only over nodes and lanes no other robot (but ``ignoring``) holds; None if there is none.
    """
    blocked = passable(traffic, robot, ignoring)
    came: dict[str, str] = {start: start}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for vertex in frontier:
            for lane in sorted(graph.neighbours(vertex), key=lambda lane: lane.length):
                if lane.end in came or blocked(lane):
                    continue
                came[lane.end] = vertex
                if lane.end not in keep_clear:
                    nodes = [lane.end]
                    while came[nodes[-1]] != start:
                        nodes.append(came[nodes[-1]])
                    return nodes[::-1]
                following.append(lane.end)
        frontier = following
    return None


def stuck(
    graph: NavGraph, traffic: Traffic, ways: Mapping[str, tuple[str, set[str]]], driving: set[str]
) -> bool:
    """Whether no robot of a deadlock gets out even once the ``driving`` robots have passed.

    ``ways``: from where each robot would leave, and what it must keep off. A
    deadlock whose only ways out are held by robots driving on (not waiting,
    not gone) opens by itself within moments and is resolved then (the master
    control tries on every tick); one that does not needs an operator.
    """
    return all(
        side_path(graph, traffic, robot, start, keep_clear, ignoring=driving) is None
        for robot, (start, keep_clear) in ways.items()
    )


def waiting_on(waits: Mapping[str, Wait], robot: str) -> list[str]:
    """The robots that wait on ``robot``."""
    return sorted(other for other, wait in waits.items() if wait.holder == robot)


class Unresolved:
    """The deadlocks no way out was found for yet, so each is counted once, not on every tick.

    A deadlock is named by its robots (a cycle, or a robot and the parked
    one it waits on). It stays known while it stands; once it clears
    (resolved, or its robots moved on) and comes back, it counts again.
    """

    def __init__(self) -> None:
        self._known: set[frozenset[str]] = set()

    def standing(self, deadlocks: list[frozenset[str]]) -> None:
        """Forget the deadlocks that no longer stand (call each tick, with those that do)."""
        self._known &= set(deadlocks)

    def first(self, robots: frozenset[str]) -> bool:
        """Whether the deadlock of ``robots`` is new: count it only then."""
        if robots in self._known:
            return False
        self._known.add(robots)
        return True
