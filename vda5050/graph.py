"""The navigation graph the master control plans on: the building map's nav graphs, by level.

Each level's graph (``nav_graphs``, the one named by ``vda5050_nav_graph_name``
or the first) becomes the nodes and lanes of one VDA 5050 map: ``mapId`` is
the level's name. A named vertex keeps its name as ``nodeId`` (so places read
the same in the dashboard, the vehicle's state and its logs); a junction
without a name is ``{level}:{index}``. Lanes are bidirectional unless the map
says unidirectional (``edge_type`` 1). Lifts join levels in RMF but need
lift requests, out of scope here: a route never leaves its level.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
from pydantic import ValidationError

from fleetcore.contract.rmf import BuildingMap
from fleetcore.contract.rmf.building_map import GraphNode
from fleetcore.errors import ConfigError

UNIDIRECTIONAL = 1
"""rmf_building_map_msgs/GraphEdge EDGE_TYPE_UNIDIRECTIONAL."""


@dataclass(frozen=True, slots=True)
class GraphVertex:
    id: str
    """The VDA 5050 ``nodeId``."""
    map: str
    """The level: the VDA 5050 ``mapId``."""
    x: float
    y: float
    place: bool
    charger: bool = False
    parking: bool = False
    dispenser: str = ""
    ingestor: str = ""


@dataclass(frozen=True, slots=True)
class Lane:
    id: str
    """The VDA 5050 ``edgeId``."""
    start: str
    end: str
    length: float


class NoRoute(ValueError):
    """Two places no lane joins (another level, or a one-way lane the wrong way)."""


class NavGraph:
    """Vertices and lanes of every level, with shortest routes (Dijkstra, cached per source)."""

    def __init__(self, vertices: list[GraphVertex], lanes: list[Lane]) -> None:
        self.vertices = {v.id: v for v in vertices}
        self._out: dict[str, list[Lane]] = {v.id: [] for v in vertices}
        for lane in lanes:
            self._out[lane.start].append(lane)
        self._trees: dict[str, tuple[dict[str, float], dict[str, Lane]]] = {}
        self._chargers = [v.id for v in vertices if v.charger]
        self._to_charger: dict[str, float] = {}

    @classmethod
    def from_building_map(cls, building: BuildingMap, graph_name: str = "") -> NavGraph:
        vertices: list[GraphVertex] = []
        lanes: list[Lane] = []
        for level in building.levels:
            graphs = [g for g in level.nav_graphs if not graph_name or g.name == graph_name]
            if not graphs:
                continue
            graph = graphs[0]
            ids = [_vertex_id(level.name, i, node) for i, node in enumerate(graph.vertices)]
            vertices += [_vertex(ids[i], level.name, n) for i, n in enumerate(graph.vertices)]
            for edge in graph.edges:
                a, b = graph.vertices[edge.v1_idx], graph.vertices[edge.v2_idx]
                length = math.hypot(a.x - b.x, a.y - b.y)
                ends = [(edge.v1_idx, edge.v2_idx)]
                if edge.edge_type != UNIDIRECTIONAL:
                    ends.append((edge.v2_idx, edge.v1_idx))
                lanes += [Lane(f"{level.name}:{i}-{j}", ids[i], ids[j], length) for i, j in ends]
        if not vertices:
            raise ConfigError(
                f"the building map {building.name!r} has no navigation graph"
                + (f" named {graph_name!r}" if graph_name else "")
            )
        return cls(vertices, lanes)

    @classmethod
    def from_file(cls, path: Path, graph_name: str = "") -> NavGraph:
        """A building map as JSON (what ``GET /building_map`` answers, or RMF's BuildingMap)."""
        try:
            building = BuildingMap.model_validate(orjson.loads(path.read_bytes()))
        except FileNotFoundError:
            raise ConfigError(f"the VDA 5050 navigation graph file {path} does not exist") from None
        except (orjson.JSONDecodeError, ValidationError) as exc:
            raise ConfigError(f"{path} is not a building map: {exc}") from None
        return cls.from_building_map(building, graph_name)

    def vertex(self, vertex_id: str) -> GraphVertex | None:
        return self.vertices.get(vertex_id)

    def place(self, name: object) -> GraphVertex | None:
        """The named place ``name``, or None."""
        vertex = self.vertices.get(name) if isinstance(name, str) else None
        return vertex if vertex is not None and vertex.place else None

    def nearest(self, map_id: str, x: float, y: float) -> tuple[GraphVertex, float] | None:
        """The vertex of ``map_id`` nearest to (x, y) and how far it is; None on an unknown map."""
        best: tuple[GraphVertex, float] | None = None
        for vertex in self.vertices.values():
            if vertex.map != map_id:
                continue
            gap = math.hypot(vertex.x - x, vertex.y - y)
            if best is None or gap < best[1]:
                best = (vertex, gap)
        return best

    def neighbours(self, vertex_id: str) -> list[Lane]:
        """The lanes that leave ``vertex_id``."""
        return self._out.get(vertex_id, [])

    def lane_from(self, vertex_id: str, x: float, y: float, tolerance_m: float) -> Lane | None:
        """The lane leaving ``vertex_id`` that (x, y) stands on: within ``tolerance_m`` of the
        straight line between its ends (the nearest such lane); None if there is none.

        A vehicle reports the node it last reached and its position, not the edge it is on
        once its order is gone (VDA 5050 ``lastNodeId``, ``agvPosition``).
        """
        start = self.vertices.get(vertex_id)
        best: tuple[float, Lane] | None = None
        for lane in self.neighbours(vertex_id):
            end = self.vertices[lane.end]
            if start is None or end.map != start.map:
                continue
            gap = _to_segment(x, y, (start.x, start.y), (end.x, end.y))
            if gap <= tolerance_m and (best is None or gap < best[0]):
                best = (gap, lane)
        return None if best is None else best[1]

    def _tree(self, source: str) -> tuple[dict[str, float], dict[str, Lane]]:
        cached = self._trees.get(source)
        if cached is None:
            cached = self._trees[source] = self._dijkstra(source, None)
        return cached

    def _dijkstra(
        self,
        source: str,
        blocked: Callable[[Lane], bool] | None,
        toll: Callable[[Lane], float] | None = None,
    ) -> tuple[dict[str, float], dict[str, Lane]]:
        dist: dict[str, float] = {source: 0.0}
        via: dict[str, Lane] = {}
        frontier = [(0.0, source)]
        while frontier:
            d, node = heapq.heappop(frontier)
            if d > dist[node]:
                continue
            for lane in self._out[node]:
                if blocked is not None and blocked(lane):
                    continue
                nd = d + lane.length + (toll(lane) if toll is not None else 0.0)
                if nd < dist.get(lane.end, math.inf):
                    dist[lane.end] = nd
                    via[lane.end] = lane
                    heapq.heappush(frontier, (nd, lane.end))
        return dist, via

    def distance(self, source: str, target: str) -> float:
        return self._tree(source)[0].get(target, math.inf)

    def to_charger(self, source: str) -> float:
        """The way from ``source`` to its nearest charger (0 on a map without one), kept."""
        metres = self._to_charger.get(source)
        if metres is None:
            metres = self._to_charger[source] = min(
                (self.distance(source, c) for c in self._chargers), default=0.0
            )
        return metres

    def route(
        self,
        source: str,
        target: str,
        blocked: Callable[[Lane], bool] | None = None,
        toll: Callable[[Lane], float] | None = None,
    ) -> list[Lane]:
        """The lanes from ``source`` to ``target``, in order; empty if already there.

        ``blocked``: lanes not to take (traffic control's re-route around held
        ones); ``toll``: metres added to a lane's length (traffic control's
        price of a held one). Such a route is planned afresh, not cached.
        """
        if blocked is None and toll is None:
            dist, via = self._tree(source)
        else:
            dist, via = self._dijkstra(source, blocked, toll)
        if target not in dist:
            raise NoRoute(f"no lane leads from {source} to {target}")
        lanes: list[Lane] = []
        node = target
        while node != source:
            lane = via[node]
            lanes.append(lane)
            node = lane.start
        return lanes[::-1]


def _vertex_id(level: str, index: int, node: GraphNode) -> str:
    return node.name or f"{level}:{index}"


def _vertex(vertex_id: str, level: str, node: GraphNode) -> GraphVertex:
    params = {p.name: p for p in node.params}
    charger = params.get("is_charger")
    parking = params.get("is_parking_spot")
    dispenser = params.get("pickup_dispenser")
    ingestor = params.get("dropoff_ingestor")
    return GraphVertex(
        id=vertex_id,
        map=level,
        x=node.x,
        y=node.y,
        place=bool(node.name),
        charger=bool(charger and charger.value_bool),
        parking=bool(parking and parking.value_bool),
        dispenser=dispenser.value_string if dispenser else "",
        ingestor=ingestor.value_string if ingestor else "",
    )


def _to_segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    """How far (x, y) is from the segment a-b."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    span = dx * dx + dy * dy
    t = 0.0 if span == 0 else max(0.0, min(1.0, ((x - a[0]) * dx + (y - a[1]) * dy) / span))
    return math.hypot(x - a[0] - t * dx, y - a[1] - t * dy)
