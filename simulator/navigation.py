"""Route planning over the site's lanes and lift hops (Dijkstra, cached per source).

The graph is small (tens of vertices), so exact shortest paths are cheap; the
cache makes 200 robots re-planning at once cost one search per source vertex.
"""

from __future__ import annotations

import heapq
import math

from simulator.building import Site, Vertex

LIFT_HOP_COST_M = 15.0
"""A lift ride counted as this many metres, so robots prefer same-level routes."""


class Navigator:
    def __init__(self, site: Site) -> None:
        self.site = site
        self._adjacent: dict[str, list[tuple[str, float]]] = {n: [] for n in site.vertices}
        for a, b in site.lanes:
            va, vb = site.vertices[a], site.vertices[b]
            cost = math.dist((va.x, va.y), (vb.x, vb.y))
            self._adjacent[a].append((b, cost))
            self._adjacent[b].append((a, cost))
        for lift in site.lifts:
            cabins = list(lift.cabins.values())
            for a in cabins:
                for b in cabins:
                    if a != b:
                        self._adjacent[a].append((b, LIFT_HOP_COST_M))
        self._trees: dict[str, tuple[dict[str, float], dict[str, str]]] = {}

    def _tree(self, source: str) -> tuple[dict[str, float], dict[str, str]]:
        cached = self._trees.get(source)
        if cached is not None:
            return cached
        dist: dict[str, float] = {source: 0.0}
        prev: dict[str, str] = {}
        frontier = [(0.0, source)]
        while frontier:
            d, node = heapq.heappop(frontier)
            if d > dist[node]:
                continue
            for nxt, cost in self._adjacent[node]:
                nd = d + cost
                if nd < dist.get(nxt, math.inf):
                    dist[nxt] = nd
                    prev[nxt] = node
                    heapq.heappush(frontier, (nd, nxt))
        self._trees[source] = (dist, prev)
        return dist, prev

    def distance(self, source: str, target: str) -> float:
        return self._tree(source)[0].get(target, math.inf)

    def route(self, source: str, target: str) -> list[Vertex]:
        """Vertices after ``source`` up to and including ``target``; empty if already there."""
        dist, prev = self._tree(source)
        if target not in dist:
            raise ValueError(f"no route from {source} to {target}")
        names: list[str] = []
        node = target
        while node != source:
            names.append(node)
            node = prev[node]
        return [self.site.vertices[n] for n in reversed(names)]

    def nearest_vertex(self, level: str, x: float, y: float) -> Vertex:
        return min(
            (v for v in self.site.vertices.values() if v.level == level),
            key=lambda v: math.dist((v.x, v.y), (x, y)),
        )
