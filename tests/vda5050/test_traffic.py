"""Traffic control's reservation table: no node or lane is ever held by two robots."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from vda5050.traffic import Traffic, lane_key, node_key


@dataclass
class Graph:
    nodes: list[str]
    lanes: set[tuple[str, str]]

    def neighbours(self, node: str) -> list[str]:
        return sorted(
            {b for a, b in self.lanes if a == node} | {a for a, b in self.lanes if b == node}
        )

    def route(self, source: str, target: str) -> list[str]:
        """Breadth first: the nodes from ``source`` to ``target``."""
        came: dict[str, str] = {source: source}
        frontier = [source]
        while target not in came:
            following: list[str] = []
            for node in frontier:
                for n in self.neighbours(node):
                    if n not in came:
                        came[n] = node
                        following.append(n)
            frontier = following
        nodes = [target]
        while nodes[-1] != source:
            nodes.append(came[nodes[-1]])
        return nodes[::-1]


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    """A connected graph: a random spanning tree and some extra lanes."""
    count = draw(st.integers(2, 12))
    nodes = [f"n{i}" for i in range(count)]
    lanes = {(nodes[draw(st.integers(0, i - 1))], nodes[i]) for i in range(1, count)}
    extra = draw(
        st.lists(st.tuples(st.sampled_from(nodes), st.sampled_from(nodes)), max_size=count)
    )
    lanes |= {(a, b) for a, b in extra if a != b and (b, a) not in lanes}
    return Graph(nodes, lanes)


@dataclass
class Robot:
    name: str
    at: str
    tasks: list[str]
    moving: bool = False
    clear: bool = False
    """Moving and clear of the node it left (traffic control was told: :meth:`Traffic.left`)."""
    stopped_on: str = ""
    """Its order canceled on the lane from ``at`` to this node, it stopped there."""

    def occupies(self, traffic: Traffic) -> set[str]:
        """Where the robot physically is: its node, and the lane and node it drives to.

        Once clear of the node it left, only the lane and the node it drives to. Stopped on
        a lane (its order canceled): the same, standing still.
        """
        path = traffic.paths.get(self.name)
        if path is None and not self.stopped_on:
            return {node_key(self.at)}
        if path is None:
            here, ahead = self.at, self.stopped_on
        elif self.moving:
            here, ahead = path.nodes[path.passed], path.nodes[path.passed + 1]
        else:
            return {node_key(path.nodes[path.passed])}
        return {lane_key(here, ahead), node_key(ahead)} | (
            set() if self.clear else {node_key(here)}
        )

    def cancel(self, traffic: Traffic) -> None:
        """Its order is canceled: it stops where it is, on a node or (moving) on the lane."""
        path = traffic.paths[self.name]
        if self.moving:
            self.stopped_on = path.nodes[path.passed + 1]
        self.moving = False
        assert traffic.stand(self.name, self.at, self.stopped_on, clear=self.clear) == []

    def start(self, traffic: Traffic, graph: Graph, target: str) -> None:
        """A new order to ``target``: from a lane it stopped on, on along it first."""
        if not self.stopped_on:
            assert traffic.follow(self.name, graph.route(self.at, target)) == []
            return
        nodes = [self.at, *graph.route(self.stopped_on, target)]
        assert traffic.follow(self.name, nodes, reserved_end=1, left=self.clear) == []
        self.stopped_on = ""
        self.moving = True


def check(traffic: Traffic, robots: list[Robot]) -> None:
    for a, b in itertools.combinations(robots, 2):
        assert not traffic.held(a.name) & traffic.held(b.name), (a.name, b.name)
    for robot in robots:
        assert robot.occupies(traffic) <= traffic.held(robot.name), robot.name
        for resource in traffic.held(robot.name):
            assert traffic.owner[resource] == robot.name


@settings(max_examples=300, deadline=None)
@given(
    graph=graphs(),
    robot_count=st.integers(1, 6),
    release=st.integers(1, 4),
    tasks=st.lists(st.integers(0, 11), min_size=1, max_size=30),
    turns=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 9)), min_size=1, max_size=400),
)
def test_no_two_robots_ever_hold_one_node_or_lane(
    graph: Graph, robot_count: int, release: int, tasks: list[int], turns: list[tuple[int, int]]
) -> None:
    """Robots drive their tasks; one turn in ten cancels a robot's order, wherever it is."""
    robots = [Robot(f"r{i}", node, []) for i, node in enumerate(graph.nodes[:robot_count])]
    for i, place in enumerate(tasks):
        robots[i % len(robots)].tasks.append(graph.nodes[place % len(graph.nodes)])
    traffic = Traffic()
    for robot in robots:
        assert traffic.stand(robot.name, robot.at) == []
    check(traffic, robots)
    for now, (turn, action) in enumerate(turns):
        robot = robots[turn % len(robots)]
        path = traffic.paths.get(robot.name)
        if path is None:
            target = robot.tasks.pop(0) if robot.tasks else robot.at
            if target != robot.at or robot.stopped_on:
                robot.start(traffic, graph, target)
                traffic.claim(robot.name, release, now)
        elif action == 0:
            robot.cancel(traffic)
        elif robot.moving and not robot.clear and turn % 2:
            robot.clear = traffic.left(robot.name)
            assert robot.clear
        elif robot.moving:
            robot.moving = robot.clear = False
            traffic.passed(robot.name, path.passed + 1)
            robot.at = path.nodes[path.passed]
            if path.passed == len(path.nodes) - 1:
                assert traffic.stand(robot.name, robot.at) == []
            else:
                traffic.claim(robot.name, path.passed + release, now)
        elif path.passed < path.reserved_end:
            robot.moving = True
        else:
            traffic.claim(robot.name, path.passed + release, now)
        check(traffic, robots)


def test_a_bidirectional_lane_is_one_resource() -> None:
    traffic = Traffic()
    traffic.stand("a", "x")
    traffic.stand("b", "y")
    traffic.follow("a", ["x", "m", "y"])
    traffic.follow("b", ["y", "m", "x"])
    assert traffic.claim("a", 1, 0) == 1
    assert traffic.claim("b", 1, 0) == 0
    assert traffic.waits["b"].holder == "a"
    assert traffic.waits["b"].resource == node_key("m")


def test_a_base_stops_before_the_first_node_another_robot_holds() -> None:
    traffic = Traffic()
    traffic.stand("parked", "c")
    traffic.follow("mover", ["a", "b", "c", "d"])
    assert traffic.claim("mover", 3, 5) == 1
    assert traffic.waits["mover"].holder == "parked"
    assert traffic.waits["mover"].since_ms == 5


def test_passing_a_node_frees_the_nodes_and_lanes_behind() -> None:
    traffic = Traffic()
    traffic.follow("a", ["x", "y", "z"])
    traffic.claim("a", 2, 0)
    assert traffic.held("a") == {
        node_key("x"),
        lane_key("x", "y"),
        node_key("y"),
        lane_key("y", "z"),
        node_key("z"),
    }
    traffic.passed("a", 1)
    assert traffic.held("a") == {node_key("y"), lane_key("y", "z"), node_key("z")}


def one_behind_another(base: int) -> Traffic:
    """``first`` on b-c-d with ``base`` nodes released has passed c; ``second`` on a-b-c
    took b behind it and waits for c."""
    traffic = Traffic()
    traffic.follow("first", ["b", "c", "d"])
    traffic.follow("second", ["a", "b", "c"])
    traffic.claim("first", base, 0)
    assert traffic.claim("second", 2, 0) == 0
    traffic.passed("first", 1)
    assert traffic.claim("second", 2, 1) == 1
    assert "second" in traffic.waits
    return traffic


def test_a_waiting_robot_goes_on_once_the_holder_has_passed() -> None:
    traffic = one_behind_another(1)
    traffic.claim("first", 2, 2)
    traffic.passed("first", 2)
    assert traffic.claim("second", 2, 3) == 2
    assert "second" not in traffic.waits


def test_a_robot_clear_of_the_node_it_left_frees_it_for_the_one_behind() -> None:
    traffic = one_behind_another(2)
    assert traffic.left("first")
    assert traffic.held("first") == {lane_key("c", "d"), node_key("d")}
    assert traffic.claim("second", 2, 2) == 2
    assert "second" not in traffic.waits


def test_a_robot_at_its_decision_point_keeps_the_node_it_stands_on() -> None:
    traffic = Traffic()
    traffic.follow("a", ["x", "y"])
    assert not traffic.left("a")
    assert traffic.held("a") == {node_key("x")}


def test_a_restored_order_that_had_left_its_node_does_not_hold_it_again() -> None:
    traffic = Traffic()
    assert traffic.stand("b", "x") == []
    assert traffic.follow("a", ["x", "y", "z"], passed=0, reserved_end=2, left=True) == []
    assert traffic.held("a") == {
        lane_key("x", "y"),
        node_key("y"),
        lane_key("y", "z"),
        node_key("z"),
    }
