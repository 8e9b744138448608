"""The sample site and the BuildingMap built from it."""

from __future__ import annotations

import base64
import math

from fleetcore.contract.ingest import IngestType, decode, encode
from fleetcore.contract.rmf import BuildingMap
from simulator import sample_site
from simulator.navigation import Navigator


def test_building_map_passes_the_hubs_ingest_validator() -> None:
    message = decode(encode(IngestType.BUILDING_MAP, sample_site().to_building_map()))
    assert isinstance(message.data, BuildingMap)
    assert [level.name for level in message.data.levels] == ["L1", "L2"]
    assert message.data.lifts[0].levels == ["L1", "L2"]


def test_every_level_has_a_graph_doors_and_a_png_image() -> None:
    building = sample_site().to_building_map()
    for level in building.levels:
        graph = level.nav_graphs[0]
        assert len(graph.vertices) >= 8 and graph.edges
        assert 2 <= len(level.doors) <= 3
        uri = level.images[0].data
        assert uri.startswith("data:image/png;base64,")
        assert base64.b64decode(uri.split(",", 1)[1]).startswith(b"\x89PNG")


def test_each_door_sits_on_a_lane() -> None:
    site = sample_site()
    for door in site.doors:
        cx, cy = door.center
        on_lane = False
        for a, b in site.lanes:
            va, vb = site.vertices[a], site.vertices[b]
            if va.level != door.level:
                continue
            length = math.dist((va.x, va.y), (vb.x, vb.y))
            via = math.dist((va.x, va.y), (cx, cy)) + math.dist((cx, cy), (vb.x, vb.y))
            on_lane |= abs(via - length) < 1e-6
        assert on_lane, door.name


def test_site_has_chargers_dispensers_ingestors_and_clean_zones() -> None:
    site = sample_site()
    assert len(site.chargers) >= 3
    assert {v.dispenser for v in site.dispensers} == {"pantry_dispenser", "kitchen_dispenser"}
    assert {v.level for v in site.ingestors} == {"L1", "L2"}
    assert site.clean_zones


def test_routes_between_levels_go_through_the_lift() -> None:
    site = sample_site()
    route = Navigator(site).route("pantry", "kitchen")
    names = [v.name for v in route]
    assert names[-1] == "kitchen"
    assert names.index("lift_1_L2") == names.index("lift_1_L1") + 1
