"""What every helper process shares: a node in its own context, run until stdin closes."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy


def _qos(depth: int, durability: DurabilityPolicy) -> QoSProfile:
    return QoSProfile(  # type: ignore[no-untyped-call, unused-ignore]  # rclpy leaves __init__ untyped
        depth=depth, reliability=ReliabilityPolicy.RELIABLE, durability=durability
    )


LATCHED = _qos(10, DurabilityPolicy.TRANSIENT_LOCAL)
MAP = _qos(1, DurabilityPolicy.TRANSIENT_LOCAL)
STATE = _qos(10, DurabilityPolicy.VOLATILE)
"""RMF's state topics and its door/lift supervisors' request subscriptions."""


def run(name: str, setup: Callable[[Node], None]) -> None:
    """Create the node, let ``setup`` add its publishers/timers, spin until stdin closes.

    The test that started the process closes its stdin to stop it, so a
    helper never outlives its test and needs no signal handling.
    """
    context = Context()
    rclpy.init(context=context)
    node = Node(name, context=context)
    setup(node)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)

    def stop_on_eof() -> None:
        sys.stdin.read()
        context.try_shutdown()

    threading.Thread(target=stop_on_eof, daemon=True).start()
    try:
        while context.ok():
            executor.spin_once(timeout_sec=0.1)
    except Exception:  # the context shut down under spin_once
        if context.ok():
            raise
    finally:
        node.destroy_node()  # type: ignore[no-untyped-call, unused-ignore]  # untyped in rclpy
        context.try_shutdown()


def say(line: str) -> None:
    print(line, flush=True)
