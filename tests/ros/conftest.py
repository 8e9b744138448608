"""Fixtures for the ROS 2 bridge tests: a private DDS domain on loopback, ROS processes, a sink.

Every test run picks a random ``ROS_DOMAIN_ID`` and limits discovery to this
host (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``), so parallel runs and other
ROS 2 systems on the network never see each other. The variables are set
before any rclpy context exists, and every helper process inherits them.

Tests marked ``ros`` need rclpy and fleethub's RMF interface packages; where
they are missing, those tests skip and say how to install them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from fleetcore.settings import Settings
from tests.conftest import start_server

HELPERS = Path(__file__).parent / "procs"
INSTALL_HINT = (
    "needs rclpy and fleethub's RMF interface packages: "
    "run `scripts/build_ros_interfaces.sh` (add `--distro kilted` for a Kilted site)"
)
HAVE_ROS = all(importlib.util.find_spec(name) is not None for name in ("rclpy", "rmf_fleet_msgs"))

if HAVE_ROS:
    # rosidl's parser needs lark-parser 0.12, which imports the deprecated
    # sre_parse; this suite turns warnings into errors, so import it once here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import lark  # noqa: F401

# 1..100: inside every DDS vendor's valid range, away from the default 0.
os.environ["ROS_DOMAIN_ID"] = str(random.randint(1, 100))
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if HAVE_ROS:
        return
    skip = pytest.mark.skip(reason=INSTALL_HINT)
    for item in items:
        if item.get_closest_marker("ros") is not None:
            item.add_marker(skip)


class RecordingSink:
    """An :class:`~ros_bridge.sink.IngestSink` that keeps every message with its arrival time."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self._changed = asyncio.Event()

    async def submit(self, message: dict[str, Any]) -> None:
        self.messages.append((time.time(), message))
        self._changed.set()

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [m["data"] for _, m in self.messages if m["type"] == type_]

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15.0
    ) -> tuple[float, dict[str, Any]]:
        """The first (arrival time, message) matching ``predicate``, or fail at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            for arrived, message in self.messages:
                if predicate(message):
                    return arrived, message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = sorted({m["type"] for _, m in self.messages})
                raise AssertionError(f"no matching message within {timeout}s (types seen: {seen})")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass


class RosProcess:
    """A helper script under ``procs/`` in its own interpreter (and so its own DDS participant).

    It runs until its stdin closes; its stdout lines are collected by a thread.
    """

    def __init__(self, script: str, *args: str) -> None:
        self.script = script
        self.proc = subprocess.Popen(
            [sys.executable, str(HELPERS / script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))

    def close(self) -> str:
        """Stop the process (closing its stdin asks it to exit) and return its stderr."""
        if self.proc.poll() is None and self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        assert self.proc.stderr is not None and self.proc.stdout is not None
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err

    async def readline(self, timeout: float = 15.0) -> str:
        """The helper's next stdout line, or fail at the deadline."""
        try:
            return await asyncio.to_thread(self._lines.get, True, timeout)
        except queue.Empty:
            raise AssertionError(f"{self.script} printed nothing within {timeout}s") from None


@pytest.fixture
def ros_process() -> Iterator[Callable[..., RosProcess]]:
    started: list[RosProcess] = []

    def start(script: str, *args: str) -> RosProcess:
        proc = RosProcess(script, *args)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
async def bridge(sink: RecordingSink) -> AsyncIterator[Any]:
    from ros_bridge.bridge import RosBridge

    async with RosBridge(sink) as running:
        yield running


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The suite's settings, with time for a bridge process to start (rclpy, DDS discovery)
    before a command waiting for RMF's answer is answered 202 on a loaded 2-core machine."""
    return settings.replace(command_reply_timeout_s=30.0, command_site_wait_s=30.0)


@pytest.fixture
async def hub_with_bridge(settings: Settings) -> AsyncIterator[TestServer]:
    """The embedded system (no simulator) with the ROS 2 bridge inside the hub process."""
    from fleethub.embedded import create_app

    server = await start_server(create_app(settings.replace(ros_bridge=True)))
    try:
        yield server
    finally:
        await server.close()


def base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


async def interrupt(proc: asyncio.subprocess.Process) -> None:
    """Interrupt it as an operator would (Ctrl+C), reading what it still logs; kill at a deadline."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.communicate(), 15)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def door(name: str, mode: int) -> dict[str, Any]:
    """A door_state_update as the bridge converts rmf_door_msgs/DoorState."""
    return {
        "type": "door_state_update",
        "data": {
            "door_time": {"sec": 1, "nanosec": 0},
            "door_name": name,
            "current_mode": {"value": mode},
        },
    }
