"""``fleethub bridge`` and ``fleethub sim`` over ROS 2 as an operator runs them: real processes.

The demo through the bridge: the simulator publishes its fleet, door and lift
states on RMF's topics (``FLEETHUB_SIM_ROS``) and the bridge inside the hub
(``ros_bridge=True``) carries them in, so robots appear in REST.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from tests.conftest import eventually
from tests.helpers import TEST_SITE_TOKEN
from tests.ros.conftest import base, interrupt

pytestmark = pytest.mark.integration


def test_bridge_is_a_documented_subcommand() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "fleethub", "bridge", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "ROS 2 bridge" in out
    assert "--ros-bridge" in out
    assert "--sim-ros" in out


def test_bridge_without_rclpy_exits_non_zero_naming_the_install_script() -> None:
    # rclpy made unimportable, as in an environment without the ROS extra.
    script = (
        "import sys; sys.modules['rclpy'] = None; "
        "from fleethub.cli import main; sys.exit(main(['bridge']))"
    )
    env = {**os.environ, "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode != 0
    assert "scripts/build_ros_interfaces.sh" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.ros
async def test_the_simulator_over_ros_shows_its_robots_and_doors_in_rest_through_the_bridge(
    hub_with_bridge: TestServer,
) -> None:
    env = {
        **os.environ,
        "FLEETHUB_HUB_URL": base(hub_with_bridge),
        "FLEETHUB_INGEST_TOKEN": TEST_SITE_TOKEN,
        "FLEETHUB_SIM_ROS": "true",
        "FLEETHUB_SIM_ROBOTS": "3",
        "FLEETHUB_SIM_FLEETS": "1",
        "FLEETHUB_SIM_AUTO_TASKS_S": "0",
        "FLEETHUB_LOG_LEVEL": "WARNING",
    }
    sim = await asyncio.create_subprocess_exec(sys.executable, "-m", "fleethub", "sim", env=env)
    try:
        async with aiohttp.ClientSession() as http:

            async def robots() -> dict[str, Any]:
                async with http.get(f"{base(hub_with_bridge)}/fleets") as response:
                    fleets = await response.json()
                return {r: s for f in fleets for r, s in (f.get("robots") or {}).items()}

            async def doors() -> list[Any]:
                async with http.get(f"{base(hub_with_bridge)}/doors") as response:
                    listed: list[Any] = await response.json()
                found = []
                for door in listed:
                    async with http.get(
                        f"{base(hub_with_bridge)}/doors/{door['name']}/state"
                    ) as response:
                        if response.status == 200:
                            found.append(await response.json())
                return found

            async def three_robots() -> dict[str, Any]:
                found = await robots()
                return found if len(found) == 3 else {}

            seen = await eventually(three_robots, timeout=30)
            assert all(r["status"] in {"idle", "charging", "working"} for r in seen.values())
            # The fleet-adapter JSON the simulator sends on /_internal carries each robot's
            # commission; rmf_fleet_msgs/FleetState has none: these came over ROS 2.
            assert all("commission" not in r for r in seen.values())
            assert await eventually(doors, timeout=30)
    finally:
        await interrupt(sim)
    assert sim.returncode == 0
