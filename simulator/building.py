"""The simulated site: a plain-data description of a building and its sample instance.

The simulator plans on this description (vertices, lanes, lift hops) and the
hub receives it as an RMF ``BuildingMap``; keeping one source for both means a
robot never drives a lane the dashboard does not draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fleetcore.contract.rmf import BuildingMap
from fleetcore.contract.rmf.building_map import (
    AffineImage,
    Door,
    Graph,
    GraphEdge,
    GraphNode,
    Level,
    Lift,
    Param,
    Place,
)
from simulator.map_image import MapImage, render_png_data_uri

DOOR_SINGLE_SLIDING = 1
DOOR_DOUBLE_SLIDING = 2
DOOR_SINGLE_SWING = 5
PARAM_STRING = 1
PARAM_BOOL = 4
IMAGE_SCALE = 0.1
"""Metres per pixel of the generated floor image."""


@dataclass(frozen=True, slots=True)
class Vertex:
    """A navigation-graph vertex; ``name`` is unique over the whole site."""

    name: str
    level: str
    x: float
    y: float
    place: bool = True
    """Named destinations are places; plain junctions are not."""
    charger: bool = False
    parking: bool = False
    lift: str = ""
    """The lift whose cabin this vertex is, if any."""
    dispenser: str = ""
    ingestor: str = ""
    clean_zone: bool = False


@dataclass(frozen=True, slots=True)
class DoorSpec:
    name: str
    level: str
    v1: tuple[float, float]
    v2: tuple[float, float]
    door_type: int = DOOR_DOUBLE_SLIDING

    @property
    def center(self) -> tuple[float, float]:
        return ((self.v1[0] + self.v2[0]) / 2, (self.v1[1] + self.v2[1]) / 2)


@dataclass(frozen=True, slots=True)
class LiftSpec:
    name: str
    x: float
    y: float
    cabins: dict[str, str]
    """Level name -> the cabin vertex on that level."""


@dataclass(frozen=True)
class Site:
    """Everything the simulator and the map know about the building."""

    name: str
    levels: tuple[str, ...]
    vertices: dict[str, Vertex]
    lanes: tuple[tuple[str, str], ...]
    doors: tuple[DoorSpec, ...]
    lifts: tuple[LiftSpec, ...]
    elevations: dict[str, float] = field(default_factory=dict)

    def places(self, level: str | None = None) -> list[Vertex]:
        return [
            v for v in self.vertices.values() if v.place and (level is None or v.level == level)
        ]

    @property
    def chargers(self) -> list[Vertex]:
        return [v for v in self.vertices.values() if v.charger]

    @property
    def dispensers(self) -> list[Vertex]:
        return [v for v in self.vertices.values() if v.dispenser]

    @property
    def ingestors(self) -> list[Vertex]:
        return [v for v in self.vertices.values() if v.ingestor]

    @property
    def clean_zones(self) -> list[Vertex]:
        return [v for v in self.vertices.values() if v.clean_zone]

    def spawn_points(self) -> list[Vertex]:
        """Where robots start: chargers first, then parking spots, then other places."""
        ranked = sorted(
            (v for v in self.vertices.values() if v.place and not v.lift),
            key=lambda v: (not v.charger, not v.parking, v.name),
        )
        return ranked

    def to_building_map(self, *, with_images: bool = True) -> BuildingMap:
        """The RMF ``BuildingMap`` of this site (images as ``data:`` URIs)."""
        levels = [self._level(name, with_images) for name in self.levels]
        lifts = [
            Lift(
                name=lift.name,
                levels=list(lift.cabins),
                ref_x=lift.x,
                ref_y=lift.y,
                width=2.0,
                depth=2.0,
                doors=[
                    Door(
                        name=f"{lift.name}_door",
                        v1_x=lift.x - 1.0,
                        v1_y=lift.y - 1.0,
                        v2_x=lift.x + 1.0,
                        v2_y=lift.y - 1.0,
                        door_type=DOOR_DOUBLE_SLIDING,
                        motion_range=1.0,
                    )
                ],
            )
            for lift in self.lifts
        ]
        return BuildingMap(name=self.name, levels=levels, lifts=lifts)

    def _level(self, level: str, with_images: bool) -> Level:
        names = [v.name for v in self.vertices.values() if v.level == level]
        index = {name: i for i, name in enumerate(names)}
        nodes = [_node(self.vertices[n]) for n in names]
        edges = [
            GraphEdge(v1_idx=index[a], v2_idx=index[b])
            for a, b in self.lanes
            if a in index and b in index
        ]
        doors = [
            Door(
                name=d.name,
                v1_x=d.v1[0],
                v1_y=d.v1[1],
                v2_x=d.v2[0],
                v2_y=d.v2[1],
                door_type=d.door_type,
                motion_range=1.57 if d.door_type == DOOR_SINGLE_SWING else 1.0,
            )
            for d in self.doors
            if d.level == level
        ]
        places = [Place(name=v.name, x=v.x, y=v.y) for v in self.places(level)]
        images = [self._image(level)] if with_images else []
        return Level(
            name=level,
            elevation=self.elevations.get(level, 0.0),
            images=images,
            places=places,
            doors=doors,
            nav_graphs=[Graph(name="0", vertices=nodes, edges=edges)],
        )

    def _image(self, level: str) -> AffineImage:
        points = [(v.x, v.y) for v in self.vertices.values() if v.level == level]
        image = MapImage.around(points, scale=IMAGE_SCALE, margin=3.0)
        for a, b in self.lanes:
            va, vb = self.vertices[a], self.vertices[b]
            if va.level == level and vb.level == level:
                image.line((va.x, va.y), (vb.x, vb.y), width=0.8)
        for door in self.doors:
            if door.level == level:
                image.line(door.v1, door.v2, width=0.3, shade=90)
        return AffineImage(
            name=level,
            x_offset=image.x_min,
            y_offset=image.y_max,
            scale=IMAGE_SCALE,
            encoding="png",
            data=render_png_data_uri(image),
        )


def _node(v: Vertex) -> GraphNode:
    params: list[Param] = []
    if v.charger:
        params.append(Param(name="is_charger", type=PARAM_BOOL, value_bool=True))
    if v.parking:
        params.append(Param(name="is_parking_spot", type=PARAM_BOOL, value_bool=True))
    if v.dispenser:
        params.append(Param(name="pickup_dispenser", type=PARAM_STRING, value_string=v.dispenser))
    if v.ingestor:
        params.append(Param(name="dropoff_ingestor", type=PARAM_STRING, value_string=v.ingestor))
    if v.lift:
        params.append(Param(name="lift_cabin", type=PARAM_STRING, value_string=v.lift))
    return GraphNode(x=v.x, y=v.y, name=v.name if v.place else "", params=params)


def sample_site() -> Site:
    """A two-level office: lobby, pantry and rooms on L1, kitchen and lab on L2, one lift.

    Each level is a corridor along y=5 with rooms to the north behind doors and
    chargers or parking to the south; the lift sits at the east end of both.
    """
    v: list[Vertex] = [
        # L1
        Vertex("lobby", "L1", 5.0, 5.0, clean_zone=True),
        Vertex("l1_j1", "L1", 12.0, 5.0, place=False),
        Vertex("l1_j2", "L1", 20.0, 5.0, place=False),
        Vertex("l1_j3", "L1", 28.0, 5.0, place=False),
        Vertex("pantry", "L1", 12.0, 12.0, dispenser="pantry_dispenser"),
        Vertex("room_101", "L1", 20.0, 12.0, ingestor="room_101_ingestor"),
        Vertex("room_102", "L1", 28.0, 12.0),
        Vertex("charger_1", "L1", 5.0, 0.0, charger=True),
        Vertex("charger_2", "L1", 12.0, 0.0, charger=True),
        Vertex("parking_1", "L1", 20.0, 0.0, parking=True),
        Vertex("parking_2", "L1", 28.0, 0.0, parking=True),
        Vertex("lift_1_L1", "L1", 36.0, 5.0, lift="lift_1"),
        # L2
        Vertex("lift_1_L2", "L2", 36.0, 5.0, lift="lift_1"),
        Vertex("l2_j1", "L2", 28.0, 5.0, place=False),
        Vertex("l2_j2", "L2", 20.0, 5.0, place=False),
        Vertex("l2_j3", "L2", 12.0, 5.0, place=False),
        Vertex("kitchen", "L2", 12.0, 12.0, dispenser="kitchen_dispenser"),
        Vertex("room_201", "L2", 20.0, 12.0, ingestor="room_201_ingestor"),
        Vertex("lab", "L2", 28.0, 12.0, ingestor="lab_ingestor"),
        Vertex("hall_L2", "L2", 5.0, 5.0, clean_zone=True),
        Vertex("charger_3", "L2", 12.0, 0.0, charger=True),
        Vertex("parking_3", "L2", 20.0, 0.0, parking=True),
    ]
    lanes = (
        ("lobby", "l1_j1"),
        ("l1_j1", "l1_j2"),
        ("l1_j2", "l1_j3"),
        ("l1_j3", "lift_1_L1"),
        ("l1_j1", "pantry"),
        ("l1_j2", "room_101"),
        ("l1_j3", "room_102"),
        ("lobby", "charger_1"),
        ("l1_j1", "charger_2"),
        ("l1_j2", "parking_1"),
        ("l1_j3", "parking_2"),
        ("lift_1_L2", "l2_j1"),
        ("l2_j1", "l2_j2"),
        ("l2_j2", "l2_j3"),
        ("l2_j3", "hall_L2"),
        ("l2_j3", "kitchen"),
        ("l2_j2", "room_201"),
        ("l2_j1", "lab"),
        ("l2_j3", "charger_3"),
        ("l2_j2", "parking_3"),
    )
    doors = (
        DoorSpec("pantry_door", "L1", (11.0, 8.5), (13.0, 8.5)),
        DoorSpec("room_101_door", "L1", (19.5, 8.5), (20.5, 8.5), DOOR_SINGLE_SWING),
        DoorSpec("room_102_door", "L1", (27.5, 8.5), (28.5, 8.5), DOOR_SINGLE_SWING),
        DoorSpec("kitchen_door", "L2", (11.0, 8.5), (13.0, 8.5)),
        DoorSpec("lab_door", "L2", (27.0, 8.5), (29.0, 8.5), DOOR_SINGLE_SLIDING),
    )
    lift = LiftSpec("lift_1", 36.0, 5.0, {"L1": "lift_1_L1", "L2": "lift_1_L2"})
    return Site(
        name="fleethub_office",
        levels=("L1", "L2"),
        vertices={x.name: x for x in v},
        lanes=lanes,
        doors=doors,
        lifts=(lift,),
        elevations={"L1": 0.0, "L2": 4.0},
    )
