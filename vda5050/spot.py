"""Where a vehicle without an order stands: on a node, or on a lane (its order canceled midway).

A vehicle reports the node it last reached (``lastNodeId``) and its position
(``agvPosition``). Within ``allowedDeviationXY`` of that node it stands on
it. Farther, it stands on a lane leaving that node, the one its position lies
on: its order was canceled between two nodes, and VDA 5050 lets a vehicle
stop right where it is (6.6.3). Then

- traffic control holds that lane and both its end nodes
  (:func:`vda5050.traffic.standing`), the one behind only while the vehicle
  is not clear of it: once seen clear it was freed, and a vehicle behind may
  hold it by now;
- its next order starts as the spec lets an order start for a vehicle that
  stopped between nodes (6.6.3.1): at the last node it traversed, with an
  ``allowedDeviationXY`` wide enough that it stands within it (that node
  counts as traversed), and drives on along the lane it stands on, to the far
  end, first: the way it was driving and over what it holds, not across floor
  the graph does not have, back to the node behind.

A vehicle off every lane (moved by hand) stands on the nearest node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fleetcore.contract.vda5050 import v2
from vda5050.graph import GraphVertex, NavGraph
from vda5050.orders import ReleasePolicy


@dataclass(frozen=True, slots=True)
class Spot:
    vertex: GraphVertex
    """The node it stands on; on a lane, the node it last reached (``lastNodeId``)."""
    gap_m: float
    """How far it is from ``vertex``."""
    ahead: str = ""
    """On a lane: the node at the lane's far end."""
    clear: bool = False
    """On a lane and clear of ``vertex``: beyond its deviation and the clearance."""

    @property
    def on_node(self) -> bool:
        return not self.ahead

    @property
    def start(self) -> str:
        """Where a route from here goes on from: the node, or the far end of the lane."""
        return self.ahead or self.vertex.id


def spot(graph: NavGraph, state: v2.State, policy: ReleasePolicy) -> Spot | None:
    """Where the vehicle of ``state`` stands (see the module doc); None if it is not located."""
    position = state.agvPosition
    if position is None:
        return None
    last = graph.vertex(state.lastNodeId)
    if last is not None and last.map == position.mapId:
        gap = math.hypot(last.x - position.x, last.y - position.y)
        if gap <= policy.deviation_m:
            return Spot(last, gap)
        lane = graph.lane_from(last.id, position.x, position.y, policy.deviation_m)
        if lane is not None:
            return Spot(last, gap, lane.end, gap > policy.deviation_m + policy.clearance_m)
    nearest = graph.nearest(position.mapId, position.x, position.y)
    return None if nearest is None else Spot(*nearest)
