"""Traffic control: which robot holds which node and lane of the navigation graph.

The safety invariant: **no resource is ever held by two robots**, and a
robot is released (VDA 5050 base) only onto what it holds. The resources
are the graph's nodes and its lanes; a bidirectional lane (two directed
``Lane``s in the graph) is one resource, keyed by its two ends, so two
robots never meet head-on on it.

- A robot without an order holds the node it stands on (:meth:`Traffic.stand`);
  one whose order was canceled between two nodes (VDA 5050 lets it stop
  there) stands on that lane: it holds the lane and both its end nodes, the
  one behind only while it is not clear of it (once seen clear it was freed,
  and a robot behind may hold it by now: it is not taken back).
- A robot with an order follows a path (the order's nodes). It holds the
  node it last passed and, for every node of its base after it, that node
  and the lane into it. :meth:`Traffic.claim` extends the base node by node,
  each node together with its lane, and stops at the first one another
  robot holds: that robot is what it waits for (:attr:`Traffic.waits`, the
  wait-for graph of :mod:`vda5050.deadlock`).
- As the vehicle reports nodes passed (``lastNodeSequenceId``),
  :meth:`Traffic.passed` frees the nodes and lanes behind it. The lane it is
  driving on and the node it drives to stay held until it reaches that node.
- The node it last passed is freed as soon as it has left it
  (:meth:`Traffic.left`: the master control sees it clear of that node, on
  the lane to the next): a vehicle behind it, or one crossing, takes that
  node while it is still on the lane, not a lane later. The lane stays held.

A robot that yields (:mod:`vda5050.deadlock`) gives way on a node: it does
not claim that node again while the robot it yields to still has it ahead.
A robot that yields to a parked one (standing in a dead end whose way out
the yielding robot held) does not claim that way out again while the parked
one still stands where it stood: it gets out first.

Pure: no clock but the one passed in, no I/O; the master control calls it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def robot_key(fleet: str, robot: str) -> str:
    """A robot in traffic control: robots of every fleet share one graph."""
    return f"{fleet}/{robot}"


def node_key(vertex: str) -> str:
    return f"node:{vertex}"


def lane_key(a: str, b: str) -> str:
    """One key for both directions of a lane."""
    low, high = sorted((a, b))
    return f"lane:{low}|{high}"


def standing(vertex: str, ahead: str = "", *, clear: bool = False) -> set[str]:
    """What a robot without an order holds: the node ``vertex`` it stands on, or, on the lane
    from ``vertex`` to ``ahead``, that lane, ``ahead`` and ``vertex`` unless it is ``clear`` of it."""
    if not ahead:
        return {node_key(vertex)}
    held = {lane_key(vertex, ahead), node_key(ahead)}
    return held if clear else held | {node_key(vertex)}


@dataclass(frozen=True, slots=True)
class Wait:
    """A robot stopped at its decision point because ``holder`` holds ``resource``."""

    resource: str
    holder: str
    since_ms: int
    giving_way: bool = False
    """Held back by its own give-way while it drives to the side node: a deadlock's way out."""


@dataclass(frozen=True, slots=True)
class GiveWay:
    """Do not claim past ``index`` a node that ``to`` still has ahead.

    ``to`` parked (no path): a node of ``way_out`` while ``to`` still stands on its first.
    """

    index: int
    to: str
    way_out: tuple[str, ...] = ()


@dataclass(slots=True)
class Path:
    nodes: list[str]
    passed: int = 0
    """The index of the last node the vehicle reported passing (it stands there or beyond)."""
    reserved_end: int = 0
    """The last index held: the end of the base."""
    give_way: GiveWay | None = None
    left: bool = False
    """The vehicle is clear of node ``passed``, on the lane to the next: it holds that node no more."""

    def needs(self, index: int) -> list[str]:
        """What reaching node ``index`` takes: the lane into it and the node."""
        return [lane_key(self.nodes[index - 1], self.nodes[index]), node_key(self.nodes[index])]

    def ahead(self) -> list[str]:
        return self.nodes[self.passed :]

    def wanted(self) -> set[str]:
        held = set() if self.left else {node_key(self.nodes[self.passed])}
        for index in range(self.passed + 1, self.reserved_end + 1):
            held.update(self.needs(index))
        return held


@dataclass
class Traffic:
    """The reservation table and each robot's path; see the module doc."""

    owner: dict[str, str] = field(default_factory=dict)
    """Each held resource's robot."""
    paths: dict[str, Path] = field(default_factory=dict)
    waits: dict[str, Wait] = field(default_factory=dict)
    _held: dict[str, set[str]] = field(default_factory=dict)

    def held(self, robot: str) -> set[str]:
        return set(self._held.get(robot, ()))

    def stand(self, robot: str, vertex: str, ahead: str = "", *, clear: bool = False) -> list[str]:
        """``robot`` has no order: it stands on ``vertex``, or (``ahead``) on the lane from
        ``vertex`` to ``ahead``, and holds :func:`standing`. Returns what another robot
        held instead (a conflict the caller reports, never expected).
        """
        self.paths.pop(robot, None)
        self.waits.pop(robot, None)
        return self._set(robot, standing(vertex, ahead, clear=clear))

    def follow(
        self,
        robot: str,
        nodes: list[str],
        passed: int = 0,
        reserved_end: int = 0,
        *,
        left: bool = False,
    ) -> list[str]:
        """``robot`` takes the path ``nodes`` and holds it from ``passed`` to ``reserved_end``.

        A new order starts with both 0 (the node it stands on); a restored
        one with what was released before (``left``: it had left node
        ``passed``). Returns the resources another robot already held (a
        conflict, normally none).
        """
        path = Path(nodes, passed, max(passed, reserved_end))
        path.left = left and passed < path.reserved_end
        self.paths[robot] = path
        self.waits.pop(robot, None)
        return self._set(robot, path.wanted())

    def replan(self, robot: str, nodes: list[str], give_way: GiveWay | None = None) -> None:
        """The nodes after the base change (a re-route or a detour); the base is kept."""
        path = self.paths[robot]
        assert nodes[: path.reserved_end + 1] == path.nodes[: path.reserved_end + 1]
        path.nodes = nodes
        path.give_way = give_way
        self.waits.pop(robot, None)

    def claim(self, robot: str, upto: int, now_ms: int) -> int:
        """Extend ``robot``'s base towards ``upto``, as far as it can; the new base end."""
        path = self.paths[robot]
        upto = min(upto, len(path.nodes) - 1)
        while path.reserved_end < upto:
            index = path.reserved_end + 1
            blocked = self._blocked(robot, path, index)
            if blocked is not None:
                resource, holder, giving_way = blocked
                wait = self.waits.get(robot)
                since = wait.since_ms if wait is not None else now_ms
                # On its way to the side node it yields at, a robot still holds what the other
                # needs: that wait is the way out. Once there, it is a wait like any other.
                on_the_way = (
                    giving_way and path.give_way is not None and (path.passed < path.give_way.index)
                )
                self.waits[robot] = Wait(resource, holder, since, on_the_way)
                return path.reserved_end
            for resource in path.needs(index):
                self._take(robot, resource)
            path.reserved_end = index
        self.waits.pop(robot, None)
        return path.reserved_end

    def _blocked(self, robot: str, path: Path, index: int) -> tuple[str, str, bool] | None:
        """The resource and robot that keep ``robot`` from node ``index`` (and if it gives way)."""
        for resource in path.needs(index):
            holder = self.owner.get(resource)
            if holder is not None and holder != robot:
                return resource, holder, False
        give_way = path.give_way
        if give_way is not None and index > give_way.index:
            vertex = path.nodes[index]
            other = self.paths.get(give_way.to)
            if other is not None and vertex in other.ahead():
                return node_key(vertex), give_way.to, True
            if (
                other is None
                and vertex in give_way.way_out
                and self.owner.get(node_key(give_way.way_out[0])) == give_way.to
            ):
                return node_key(vertex), give_way.to, True
        return None

    def passed(self, robot: str, index: int) -> None:
        """The vehicle reported passing node ``index``: free what lies behind it."""
        path = self.paths.get(robot)
        if path is None or index <= path.passed:
            return
        path.passed = min(index, path.reserved_end)
        path.left = False
        if path.give_way is not None and path.passed > path.give_way.index:
            path.give_way = None
        self._set(robot, path.wanted())

    def left(self, robot: str) -> bool:
        """The vehicle is clear of the node it last passed, driving the lane to the next:
        free that node. Whether this freed it (the lane into the next must be held)."""
        path = self.paths.get(robot)
        if path is None or path.left or path.passed >= path.reserved_end:
            return False
        path.left = True
        self._set(robot, path.wanted())
        return True

    def hold(self, robot: str, resources: set[str]) -> list[str]:
        """``robot`` holds exactly ``resources`` and follows no path (restored from the journal
        for a vehicle not heard from since a restart); returns what another robot held instead."""
        self.paths.pop(robot, None)
        self.waits.pop(robot, None)
        return self._set(robot, resources)

    def clear(self, robot: str) -> None:
        """Forget ``robot``: it holds nothing (an operator cleared it)."""
        self.paths.pop(robot, None)
        self.waits.pop(robot, None)
        self._set(robot, set())

    # ----------------------------------------------------------- table

    def _take(self, robot: str, resource: str) -> bool:
        holder = self.owner.get(resource)
        if holder is not None and holder != robot:
            return False
        self.owner[resource] = robot
        self._held.setdefault(robot, set()).add(resource)
        return True

    def _set(self, robot: str, wanted: set[str]) -> list[str]:
        """Hold exactly ``wanted``; returns what another robot held instead."""
        for resource in self._held.pop(robot, set()) - wanted:
            del self.owner[resource]
        self._held[robot] = {r for r in wanted if self.owner.get(r) == robot}
        refused = sorted(r for r in wanted if not self._take(robot, r))
        if not self._held[robot]:
            del self._held[robot]
        return refused
