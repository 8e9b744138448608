"""A robot held back at its decision point takes another way when one is about as short.

On a graph with many ways of one length (a grid of aisles), waiting for the
robot that holds the next node is often slower than turning a corner
earlier. A held-back robot therefore looks, on each tick, for a way from its
decision point to its next place over nodes and lanes no other robot holds;
it takes it when it is no longer than ``slack`` times the shortest way
(which it would drive once the holder moves on). Deadlocks are broken as
before (:mod:`vda5050.deadlock`); this only spares waits that were not one.

Pure: the master control re-lays the order when this says so.
"""

from __future__ import annotations

from vda5050.deadlock import passable
from vda5050.graph import NavGraph, NoRoute
from vda5050.traffic import Traffic


def worth_it(
    graph: NavGraph, traffic: Traffic, robot: str, decision: str, goal: str, slack: float
) -> bool:
    """Whether ``robot`` at ``decision`` has a free way to ``goal`` within ``slack`` x the shortest."""
    shortest = graph.distance(decision, goal)
    if decision == goal or shortest <= 0:
        return False
    try:
        way = graph.route(decision, goal, passable(traffic, robot))
    except NoRoute:
        return False
    return sum(lane.length for lane in way) <= slack * shortest
