"""Whether this environment can run ROS 2 code, with an error that says how to make it so.

rclpy and fleethub's RMF interface packages are an optional extra, built
into the environment by ``scripts/build_ros_interfaces.sh``. Everything that
needs them (``fleethub bridge``, the in-hub bridge, the simulator over ROS)
checks here first, so a missing extra is a configuration error with the fix
in its message, never an ImportError traceback from deep inside a start-up.
"""

from __future__ import annotations

import importlib

from fleetcore.errors import ConfigError

INSTALL_HINT = (
    "needs rclpy and fleethub's RMF interface packages: run scripts/build_ros_interfaces.sh "
    "(add --distro kilted for a Kilted site)"
)
REQUIRED = (
    "rclpy",
    "rmf_building_map_msgs",
    "rmf_dispenser_msgs",
    "rmf_door_msgs",
    "rmf_fleet_msgs",
    "rmf_ingestor_msgs",
    "rmf_lift_msgs",
    "rmf_task_msgs",
)


def require_ros(purpose: str) -> None:
    """Import what ROS 2 code needs, or raise :class:`ConfigError` naming ``purpose`` and the fix."""
    for name in REQUIRED:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise ConfigError(f"{purpose} {INSTALL_HINT} ({exc})") from None
