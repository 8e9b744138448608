"""fleethub's own RMF interfaces hash exactly like Open-RMF's, so DDS matches them with a site's.

ROS 2 (Iron on) puts a RIHS01 type hash on every endpoint; a reader and a
writer whose hashes differ never match, silently. The hashes here are
computed from the upstream definitions in ``../shared/reference/rmf_msgs``
with rosidl's own tools (``.msg``/``.srv`` → IDL → type description → hash)
and compared with what the build installed and with what a live publisher
announces.
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.ros

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO.parent / "shared" / "reference" / "rmf_msgs"
# Dependency order: rmf_task_msgs uses rmf_dispenser_msgs.
PACKAGES = [
    "rmf_dispenser_msgs",
    "rmf_ingestor_msgs",
    "rmf_door_msgs",
    "rmf_lift_msgs",
    "rmf_fleet_msgs",
    "rmf_task_msgs",
    "rmf_building_map_msgs",
]
SYSTEM_PACKAGES = ["builtin_interfaces", "geometry_msgs", "service_msgs", "std_msgs"]


def installed_distro() -> str:
    """The distro whose interfaces scripts/build_ros_interfaces.sh installed here."""
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.startswith("fleethub_rmf_msgs_"):
            return name.removeprefix("fleethub_rmf_msgs_")
    raise AssertionError("fleethub's RMF interface wheel is not installed")


def share() -> Path:
    return Path(sys.prefix) / "share"


def upstream_hashes(distro: str, work: Path) -> dict[str, str]:
    """Type name (``pkg/msg/Name``) → RIHS01 hash of each upstream definition."""
    from rosidl_adapter.msg import convert_msg_to_idl
    from rosidl_adapter.srv import convert_srv_to_idl
    from rosidl_generator_type_description import generate_type_hash

    hashes: dict[str, str] = {}
    includes = [f"{pkg}:{share() / pkg}" for pkg in SYSTEM_PACKAGES]
    for pkg in PACKAGES:
        src = REFERENCE / distro / pkg
        idl_root = work / "idl" / pkg
        idl_tuples = []
        for definition in sorted([*src.glob("msg/*.msg"), *src.glob("srv/*.srv")]):
            convert = convert_msg_to_idl if definition.suffix == ".msg" else convert_srv_to_idl
            rel = definition.relative_to(src)
            out = convert(src, pkg, rel, idl_root / rel.parent)
            idl_tuples.append(f"{idl_root}:{Path(out).relative_to(idl_root)}")
        out_dir = work / "json" / pkg
        args = work / f"{pkg}.json"
        args.write_text(
            json.dumps(
                {
                    "package_name": pkg,
                    "output_dir": str(out_dir),
                    "idl_tuples": idl_tuples,
                    "include_paths": includes,
                }
            )
        )
        for generated in generate_type_hash(str(args)):
            hashes.update(_rmf_hashes(Path(generated)))
        includes.append(f"{pkg}:{out_dir}")
    return hashes


def _rmf_hashes(type_description: Path) -> dict[str, str]:
    """The hashes of the RMF types (the described one and those it references) in one file."""
    doc = json.loads(type_description.read_text())
    return {
        h["type_name"]: h["hash_string"]
        for h in doc["type_hashes"]
        if h["type_name"].split("/")[0] in PACKAGES
    }


def built_hashes() -> dict[str, str]:
    """Type name → hash of each type description the build installed under share/."""
    hashes: dict[str, str] = {}
    for pkg in PACKAGES:
        for path in [*(share() / pkg).glob("msg/*.json"), *(share() / pkg).glob("srv/*.json")]:
            hashes.update(_rmf_hashes(path))
    return hashes


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    distro = installed_distro()
    if not (REFERENCE / distro).is_dir():
        pytest.skip(
            f"{REFERENCE / distro} (Open-RMF's upstream definitions) is absent: "
            "nothing to compare the built type hashes with"
        )
    return upstream_hashes(distro, tmp_path_factory.mktemp("hashes"))


def test_every_built_interface_hashes_like_its_upstream_definition(
    upstream: dict[str, str],
) -> None:
    built = built_hashes()
    assert sorted(built) == sorted(upstream)
    assert {name for name in upstream if built[name] != upstream[name]} == set()


async def test_a_live_fleet_state_publisher_announces_the_upstream_hash(
    upstream: dict[str, str], bridge: Any
) -> None:
    from rmf_fleet_msgs.msg import FleetState

    publisher = bridge.node.create_publisher(FleetState, "fleet_states", 10)
    try:
        (info,) = [
            i
            for i in bridge.node.get_publishers_info_by_topic("fleet_states")
            if i.node_name == bridge.node.get_name()
        ]
        assert str(info.topic_type_hash) == upstream["rmf_fleet_msgs/msg/FleetState"]
    finally:
        bridge.node.destroy_publisher(publisher)
