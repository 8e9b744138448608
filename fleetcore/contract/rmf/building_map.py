"""rmf_building_map_msgs/BuildingMap as JSON.

Image bytes never travel in the room: the hub stores them and replaces
``data`` with a URL (as rmf-web does), so every subscriber does not download
megabytes with each map.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from fleetcore.contract.rmf._base import MAX_ITEMS, Name, RmfModel, ShortText


class Param(RmfModel):
    name: ShortText
    type: int = 0
    value_int: int = 0
    value_float: float = 0.0
    value_string: ShortText = ""
    value_bool: bool = False


Params = Annotated[list[Param], Field(max_length=256)]


class GraphNode(RmfModel):
    x: float
    y: float
    name: ShortText = ""
    params: Params = []


class GraphEdge(RmfModel):
    v1_idx: Annotated[int, Field(ge=0)]
    v2_idx: Annotated[int, Field(ge=0)]
    params: Params = []
    edge_type: int = 0


class Graph(RmfModel):
    name: ShortText = ""
    vertices: Annotated[list[GraphNode], Field(max_length=100_000)] = []
    edges: Annotated[list[GraphEdge], Field(max_length=200_000)] = []
    params: Params = []


class AffineImage(RmfModel):
    name: ShortText = ""
    x_offset: float = 0.0
    y_offset: float = 0.0
    yaw: float = 0.0
    scale: float = 1.0
    encoding: ShortText = ""
    data: str = ""


class Place(RmfModel):
    name: ShortText
    x: float
    y: float
    yaw: float = 0.0
    position_tolerance: float = 0.0
    yaw_tolerance: float = 0.0


class Door(RmfModel):
    """rmf_building_map_msgs/Door: door_type 1 single sliding ... 6 double telescope."""

    name: Name
    v1_x: float
    v1_y: float
    v2_x: float
    v2_y: float
    door_type: int = 0
    motion_range: float = 0.0
    motion_direction: int = 0


class Level(RmfModel):
    name: Name
    elevation: float = 0.0
    images: Annotated[list[AffineImage], Field(max_length=64)] = []
    places: Annotated[list[Place], Field(max_length=MAX_ITEMS)] = []
    doors: Annotated[list[Door], Field(max_length=MAX_ITEMS)] = []
    nav_graphs: Annotated[list[Graph], Field(max_length=64)] = []
    wall_graph: Graph = Graph()


class Lift(RmfModel):
    name: Name
    levels: Annotated[list[ShortText], Field(max_length=1000)] = []
    doors: Annotated[list[Door], Field(max_length=1000)] = []
    wall_graph: Graph = Graph()
    ref_x: float = 0.0
    ref_y: float = 0.0
    ref_yaw: float = 0.0
    width: float = 0.0
    depth: float = 0.0


class BuildingMap(RmfModel):
    name: Name
    levels: Annotated[list[Level], Field(max_length=1000)] = []
    lifts: Annotated[list[Lift], Field(max_length=1000)] = []
