"""A task's route as a VDA 5050 order: laid once, released a few nodes at a time.

The first message (``orderUpdateId`` 0) starts at the node where the vehicle
stands, releases the base up to ``release_nodes`` nodes ahead (no further
than traffic control grants: :mod:`vda5050.traffic`) and shows the
next ``horizon_nodes`` as the unreleased horizon. As the vehicle reports
nodes traversed, the next update (``orderUpdateId`` + 1) starts at the last
released node (the stitching node, sent unchanged, as the spec requires)
and releases further. An update is sent only once the vehicle's state shows
it holds the previous one: an update that stitches onto a decision point
the vehicle never got would be refused. Any message can be rendered again
from the :class:`~vda5050.tasks.OrderTrack`, byte for byte, so re-sending a
lost one is the same message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fleetcore.contract.vda5050 import v2
from vda5050.graph import GraphVertex, Lane, NavGraph
from vda5050.tasks import OrderTrack, PlanNode, VdaTask


@dataclass(frozen=True, slots=True)
class ReleasePolicy:
    release_nodes: int = 4
    """Nodes released ahead of the vehicle's last traversed node."""
    horizon_nodes: int = 20
    """Unreleased nodes shown after the base."""
    deviation_m: float = 0.5
    """``allowedDeviationXY`` of every node but a first one the vehicle is farther from."""
    clearance_m: float = 0.5
    """Beyond ``deviation_m``: how far past a node a vehicle is clear of it (traffic control
    frees the node behind it then). At least its length from its reference point to its back."""


def lay_route(
    graph: NavGraph,
    task: VdaTask,
    start: GraphVertex,
    gap_m: float,
    policy: ReleasePolicy,
    toll: Callable[[Lane], float] | None = None,
    onto: str = "",
) -> tuple[OrderTrack, list[float]]:
    """The order for ``task`` from ``start`` (``gap_m`` from the vehicle) and metres to each node.

    ``toll`` prices the first leg's lanes (traffic control's held ones: the
    later legs are driven once those have moved on). ``onto``: the vehicle
    stands on the lane from ``start`` to ``onto`` (:mod:`vda5050.spot`), which
    the route drives to its end first. Raises :class:`~vda5050.graph.NoRoute`
    when a place cannot be reached.
    """
    order_id = task.id
    nodes = [PlanNode(vertex=start.id)]
    lanes: list[str] = []
    lengths = [0.0]
    if onto:
        lane = next(lane for lane in graph.neighbours(start.id) if lane.end == onto)
        lanes.append(lane.id)
        nodes.append(PlanNode(vertex=onto))
        lengths.append(max(0.0, lane.length - gap_m))
    for index, step in enumerate(task.steps):
        if step.spec.kind == "go":
            for lane in graph.route(nodes[-1].vertex, step.spec.place, None, toll):
                lanes.append(lane.id)
                nodes.append(PlanNode(vertex=lane.end))
                lengths.append(lengths[-1] + lane.length)
            toll = None
        else:
            step.action_id = f"{order_id}:{index}:{step.spec.kind}"
            nodes[-1].actions.append(step.action_id)
        step.node_index = len(nodes) - 1
    track = OrderTrack(
        order_id=order_id,
        nodes=nodes,
        lanes=lanes,
        first_deviation_m=round(max(policy.deviation_m, gap_m + 0.1), 3),
    )
    return track, lengths


def relay(
    graph: NavGraph,
    task: VdaTask,
    track: OrderTrack,
    via: list[str],
    blocked: Callable[[Lane], bool] | None,
) -> None:
    """Lay again what lies after ``track``'s base: first through ``via``, then the steps left.

    The base stays as released (the vehicle may already drive it); only the
    horizon changes, as the spec allows an update to. ``blocked`` keeps the
    first leg off lanes another robot holds (a re-route), raising
    :class:`~vda5050.graph.NoRoute` when there is no such way; ``track`` and
    ``task`` are changed only once the whole route is laid.
    """
    keep = track.released_end
    nodes = track.nodes[: keep + 1]
    lanes = track.lanes[:keep]
    ends: dict[int, int] = {}

    def go(target: str, avoid: Callable[[Lane], bool] | None) -> None:
        for lane in graph.route(nodes[-1].vertex, target, avoid):
            lanes.append(lane.id)
            nodes.append(PlanNode(vertex=lane.end))

    for vertex in via:
        go(vertex, None)
    avoid = None if via else blocked
    for index, step in enumerate(task.steps):
        if step.node_index <= keep:
            continue
        if step.spec.kind == "go":
            go(step.spec.place, avoid)
            avoid = None
        else:
            nodes[-1].actions.append(step.action_id)
        ends[index] = len(nodes) - 1
    for index, step in enumerate(task.steps):
        step.node_index = ends.get(index, step.node_index)
    track.nodes = nodes
    track.lanes = lanes


def first_release(track: OrderTrack, end: int, *, left: bool = False) -> None:
    """Make ``track`` describe update 0, its base released up to node ``end``.

    ``left``: the vehicle stands on the lane after the first node, clear of it.
    """
    track.update_id = 0
    track.from_index = 0
    track.released_end = end
    track.acked = False
    track.traversed = 0
    track.left = 0 if left else -1


def due_end(track: OrderTrack, policy: ReleasePolicy, *, asked: bool) -> int | None:
    """How far the next update should release, or None while none is due.

    Due once the vehicle holds the last update and has half the released
    nodes ahead of it left, or asks for a new base (``newBaseRequest``).
    Traffic control may grant less (:meth:`vda5050.traffic.Traffic.claim`).
    """
    if not track.acked or track.released_end >= track.last:
        return None
    at = max(track.traversed, 0)
    ahead = track.released_end - at
    if ahead > policy.release_nodes // 2 and not asked:
        return None
    return min(track.last, max(at + policy.release_nodes, track.released_end + 1))


def release(track: OrderTrack, end: int) -> None:
    """Move ``track`` to the next update, which releases up to node ``end``."""
    track.from_index = track.released_end
    track.released_end = end
    track.update_id += 1
    track.acked = False


def order_body(
    graph: NavGraph, task: VdaTask, track: OrderTrack, policy: ReleasePolicy
) -> dict[str, Any]:
    """The order message's fields after the header, for ``track``'s current update."""
    end = min(track.last, track.released_end + policy.horizon_nodes)
    steps = {step.action_id: step for step in task.steps if step.action_id}
    nodes = [
        _node(graph, track, i, i <= track.released_end, steps, policy)
        for i in range(track.from_index, end + 1)
    ]
    edges = [
        v2.Edge(
            edgeId=track.lanes[i],
            sequenceId=2 * i + 1,
            released=i + 1 <= track.released_end,
            startNodeId=track.nodes[i].vertex,
            endNodeId=track.nodes[i + 1].vertex,
            actions=[],
        )
        for i in range(track.from_index, end)
    ]
    return {
        "orderId": track.order_id,
        "orderUpdateId": track.update_id,
        "nodes": nodes,
        "edges": edges,
    }


def _node(
    graph: NavGraph,
    track: OrderTrack,
    index: int,
    released: bool,
    steps: dict[str, Any],
    policy: ReleasePolicy,
) -> v2.Node:
    plan = track.nodes[index]
    vertex = graph.vertices[plan.vertex]
    deviation = track.first_deviation_m if index == 0 else policy.deviation_m
    return v2.Node(
        nodeId=vertex.id,
        sequenceId=2 * index,
        released=released,
        nodePosition=v2.NodePosition(
            x=vertex.x, y=vertex.y, mapId=vertex.map, allowedDeviationXY=deviation
        ),
        actions=[_action(steps[action_id]) for action_id in plan.actions],
    )


def _action(step: Any) -> v2.Action:
    spec = step.spec
    load = next(
        (str(item["sku"]) for item in spec.payload if isinstance(item, dict) and "sku" in item),
        "load",
    )
    parameters = [
        v2.ActionParameter(key="stationType", value="station"),
        v2.ActionParameter(key="loadType", value=load),
    ]
    if spec.handler:
        parameters.append(v2.ActionParameter(key="stationName", value=spec.handler))
    return v2.Action(
        actionType=spec.kind,
        actionId=step.action_id,
        blockingType="HARD",
        actionParameters=parameters,
    )


def cancel_action(task: VdaTask) -> v2.Action:
    return v2.Action(actionType="cancelOrder", actionId=f"{task.id}:cancel", blockingType="HARD")
