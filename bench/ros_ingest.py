"""How many FleetState messages per second the bridge ingests, against a bare rclpy baseline.

A publisher process floods ``fleet_states`` with a FleetState of ``--robots``
robots (50 by default, ~8 kB) as fast as it can. In this process, first a
bare rclpy subscriber whose callback does nothing counts what it receives
(the ceiling: DDS + deserialisation in Python), then the bridge does the same
work it does in production: convert to the task API's fleet_state JSON in the
rclpy thread, hand over to asyncio, and submit to a sink (here one that only
counts, so the network to the hub is not measured). Each phase is measured
over ``--seconds`` after its first message.

Reproduce (a venv with the ROS extra, e.g. from scripts/build_ros_interfaces.sh):

    .venv/bin/python bench/ros_ingest.py --robots 50 --seconds 10

Discovery stays on this host on a private domain (ROS_AUTOMATIC_DISCOVERY_RANGE=
LOCALHOST, ROS_DOMAIN_ID 150 unless set).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("ROS_DOMAIN_ID", "150")
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


def fleet_state(robots: int) -> Any:
    from rmf_fleet_msgs.msg import FleetState, Location, RobotMode, RobotState

    return FleetState(
        name="bench",
        robots=[
            RobotState(
                name=f"robot_{i}",
                model="bench",
                task_id=f"task_{i}",
                mode=RobotMode(mode=RobotMode.MODE_MOVING),
                battery_percent=75.0,
                location=Location(x=float(i), y=1.0, yaw=0.5, level_name="L1"),
                path=[Location(x=float(i + k), y=2.0, level_name="L1") for k in range(3)],
            )
            for i in range(robots)
        ],
    )


def publish(robots: int) -> None:
    """Flood fleet_states until stdin closes."""
    import rclpy
    from rclpy.node import Node
    from rmf_fleet_msgs.msg import FleetState

    rclpy.init()
    node = Node("fleethub_bench_publisher")
    publisher = node.create_publisher(FleetState, "fleet_states", 10)
    message = fleet_state(robots)
    done = threading.Event()

    def until_stdin_closes() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=until_stdin_closes, daemon=True).start()
    sent = 0
    while not done.is_set():
        publisher.publish(message)
        sent += 1
    print(f"published {sent}", file=sys.stderr)
    node.destroy_node()  # type: ignore[no-untyped-call, unused-ignore]  # untyped in rclpy
    rclpy.shutdown()


class Window:
    """Counts events and reports the rate over ``seconds`` after the first one."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.count = 0
        self.first: float | None = None
        self.closed = threading.Event()

    def hit(self) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        elif now - self.first >= self.seconds:
            self.closed.set()
            return
        self.count += 1

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def baseline(seconds: float) -> float:
    """A bare rclpy subscriber whose callback only counts."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rmf_fleet_msgs.msg import FleetState

    context = Context()
    rclpy.init(context=context)
    node = Node("fleethub_bench_baseline", context=context)
    window = Window(seconds)
    node.create_subscription(FleetState, "fleet_states", lambda _msg: window.hit(), 10)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    while not window.closed.is_set():
        executor.spin_once(timeout_sec=0.1)
    node.destroy_node()  # type: ignore[no-untyped-call, unused-ignore]  # untyped in rclpy
    context.try_shutdown()
    return window.rate


async def bridged(seconds: float) -> tuple[float, dict[str, int]]:
    """The bridge with a sink that only counts what reaches it."""
    from ros_bridge.bridge import RosBridge

    window = Window(seconds)

    class CountingSink:
        async def submit(self, message: dict[str, Any]) -> None:
            window.hit()

    async with RosBridge(CountingSink()) as bridge:
        await asyncio.to_thread(window.closed.wait)
        stats = {
            "received": bridge.stats.received["fleet_states"],
            "dropped": bridge.stats.dropped["fleet_states"],
            "callback_errors": bridge.stats.callback_errors["fleet_states"],
        }
    return window.rate, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--publish", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish(args.robots)
        return
    from rclpy.serialization import serialize_message

    size = len(serialize_message(fleet_state(args.robots)))
    publisher = subprocess.Popen(
        [sys.executable, __file__, "--publish", "--robots", str(args.robots)],
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        base = baseline(args.seconds)
        rate, stats = asyncio.run(bridged(args.seconds))
    finally:
        assert publisher.stdin is not None
        publisher.stdin.close()
        publisher.wait(timeout=30)
    print(
        f"FleetState with {args.robots} robots ({size} bytes serialized), {args.seconds:.0f} s windows"
    )
    print(f"  baseline (bare rclpy subscriber, no work): {base:8.0f} msg/s")
    print(
        f"  bridge   (convert + hand-off + sink):      {rate:8.0f} msg/s  ({rate / base:.0%} of baseline)"
    )
    print(f"  bridge counters: {stats}")


if __name__ == "__main__":
    main()
