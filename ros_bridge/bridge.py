"""The rclpy node and its hand-off to asyncio.

Threads: rclpy spins its own executor in one dedicated thread (``spin``), so a
slow consumer never stalls DDS and asyncio code never blocks on rclpy. A
subscription callback runs in that thread, converts the message to the
ingest JSON there (pure, see :mod:`ros_bridge.convert`) and crosses to the
event loop only through ``loop.call_soon_threadsafe``. On the loop, each
route has its own queue and one task that awaits the sink, so a burst on one
topic never delays another and per-topic order is kept.

Failure containment: a callback that raises is logged and counted and the
executor keeps spinning; a sink that raises is logged and counted and the
next message is tried. A full bounded queue drops its oldest message and
counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import rclpy
from rclpy.context import Context
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from fleetcore.aio import cancel_and_wait
from fleetcore.contract.ingest import IngestType
from fleetcore.log import bridge_logger
from ros_bridge import convert
from ros_bridge import routes as r
from ros_bridge.responses import ResponseTracker
from ros_bridge.routes import Route
from ros_bridge.sink import IngestSink


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """How the bridge runs; the defaults suit a site bridge."""

    node_name: str = "fleethub_bridge"
    namespace: str = ""
    """ROS namespace of the node; RMF's topic names are relative, so this moves them too."""
    queue_size: int = 100
    """Bound of each non-lossless route's queue; 0 makes every queue unbounded."""


@dataclass(slots=True)
class BridgeStats:
    """Counters per topic. Each is written by one thread only (rclpy or the loop)."""

    received: Counter[str] = field(default_factory=Counter)
    callback_errors: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)
    forwarded: Counter[str] = field(default_factory=Counter)
    sink_errors: Counter[str] = field(default_factory=Counter)


class RosBridge:
    """Subscribes to RMF's topics, hands converted messages to an :class:`IngestSink`,
    and publishes RMF requests (task API, door, lift, alert responses).

    Use ``async with RosBridge(sink):`` or ``await start()`` / ``await aclose()``
    from the event loop that should receive the messages. It owns a private
    rclpy context, so several bridges (or a bridge and other rclpy code) can
    live in one process.
    """

    def __init__(
        self,
        sink: IngestSink,
        config: BridgeConfig = BridgeConfig(),
        routes: Sequence[Route] | None = None,
    ) -> None:
        self._sink = sink
        self._config = config
        self._routes = list(routes) if routes is not None else r.default_routes()
        self.stats = BridgeStats()
        self.responses = ResponseTracker()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._context: Context | None = None
        self._node: Node | None = None
        self._executor: SingleThreadedExecutor | None = None
        self._thread: threading.Thread | None = None
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._consumers: list[asyncio.Task[None]] = []
        self._publishers: dict[str, Any] = {}

    async def __aenter__(self) -> RosBridge:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def node(self) -> Node:
        if self._node is None:
            raise RuntimeError("the bridge is not started")
        return self._node

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._context = Context()
        rclpy.init(context=self._context)
        node = Node(self._config.node_name, namespace=self._config.namespace, context=self._context)
        self._node = node
        for route in self._routes:
            size = 0 if route.lossless else self._config.queue_size
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=size)
            self._queues[route.topic] = queue
            self._consumers.append(
                asyncio.create_task(self._consume(route.topic, queue), name=f"bridge:{route.topic}")
            )
            node.create_subscription(
                route.msg_type, route.topic, self._callback_for(route), route.qos
            )
        self._create_publishers(node)
        # rclpy's experimental EventsExecutor (Jazzy) delivered nothing and hung
        # on shutdown here; the single-threaded executor is the dependable one.
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(node)
        self._thread = threading.Thread(
            target=self._spin, name="fleethub-bridge-rclpy", daemon=True
        )
        self._thread.start()
        bridge_logger.info(
            "bridge node %s subscribed to %s",
            node.get_fully_qualified_name(),
            ", ".join(route.topic for route in self._routes),
        )

    async def aclose(self) -> None:
        """Stop spinning, destroy the node and the context, and cancel the consumers."""
        if self._executor is not None:
            # shutdown() waits for the spin thread's current callback: not on the loop.
            await asyncio.to_thread(self._executor.shutdown, 1.0)
        if self._context is not None:
            self._context.try_shutdown()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5.0)
        if self._node is not None:
            self._node.destroy_node()  # type: ignore[no-untyped-call, unused-ignore]  # untyped in rclpy
        for task in self._consumers:
            await cancel_and_wait(task)
        self._consumers.clear()
        self._executor = self._node = self._context = self._thread = None

    def _spin(self) -> None:
        executor = self._executor
        assert executor is not None
        with contextlib.suppress(ExternalShutdownException):
            executor.spin()

    # ---- rclpy thread -------------------------------------------------------

    def _callback_for(self, route: Route) -> Any:
        topic, ingest_type, convert = route.topic, route.ingest_type, route.convert
        stats = self.stats

        def callback(msg: Any) -> None:
            stats.received[topic] += 1
            try:
                message = {"type": ingest_type, "data": convert(msg)}
                # A task API response is admitted on the loop, where requests are recorded.
                response_type = (
                    int(msg.type) if ingest_type == IngestType.COMMAND_RESPONSE else None
                )
            except Exception:
                stats.callback_errors[topic] += 1
                bridge_logger.exception("dropping a message on %s: its conversion failed", topic)
                return
            loop = self._loop
            if loop is None or loop.is_closed():
                return
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._enqueue, topic, message, response_type)

        return callback

    # ---- event loop ---------------------------------------------------------

    def _enqueue(self, topic: str, message: dict[str, Any], response_type: int | None) -> None:
        if response_type is not None and not self.responses.admit(
            message["data"]["request_id"], response_type
        ):
            return
        queue = self._queues[topic]
        if queue.full():
            queue.get_nowait()
            self.stats.dropped[topic] += 1
        queue.put_nowait(message)

    async def _consume(self, topic: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        while True:
            message = await queue.get()
            try:
                await self._sink.submit(message)
            except Exception:
                self.stats.sink_errors[topic] += 1
                bridge_logger.exception("the ingest sink failed a message from %s", topic)
            else:
                self.stats.forwarded[topic] += 1

    # ---- publications -------------------------------------------------------

    def _create_publishers(self, node: Node) -> None:
        from rmf_door_msgs.msg import DoorRequest
        from rmf_fleet_msgs.msg import DeliveryAlert, MutexGroupManualRelease
        from rmf_lift_msgs.msg import LiftRequest
        from rmf_task_msgs import msg as task_msgs
        from std_msgs.msg import Bool

        for topic, msg_type in (
            (r.FIRE_ALARM_TRIGGER, Bool),
            (r.DELIVERY_ALERT_RESPONSE, DeliveryAlert),
            (r.MUTEX_GROUP_MANUAL_RELEASE, MutexGroupManualRelease),
        ):
            self._publishers[topic] = node.create_publisher(msg_type, topic, r.LATCHED_QOS)

        self._publishers[r.TASK_API_REQUESTS] = node.create_publisher(
            task_msgs.ApiRequest, r.TASK_API_REQUESTS, r.LATCHED_QOS
        )
        self._publishers[r.ADAPTER_DOOR_REQUESTS] = node.create_publisher(
            DoorRequest, r.ADAPTER_DOOR_REQUESTS, r.STATE_QOS
        )
        self._publishers[r.ADAPTER_LIFT_REQUESTS] = node.create_publisher(
            LiftRequest, r.ADAPTER_LIFT_REQUESTS, r.STATE_QOS
        )
        if hasattr(task_msgs, "AlertResponse"):
            self._publishers[r.ALERT_RESPONSE] = node.create_publisher(
                task_msgs.AlertResponse, r.ALERT_RESPONSE, r.LATCHED_QOS
            )

    def publish_task_request(self, request_id: str, json_msg: str) -> None:
        """Send a task API request; its first final response is forwarded to the sink."""
        from rmf_task_msgs.msg import ApiRequest

        self.responses.expect(request_id)
        self._publishers[r.TASK_API_REQUESTS].publish(
            ApiRequest(request_id=request_id, json_msg=json_msg)
        )

    def publish_door_request(self, door_name: str, mode: int, requester_id: str) -> None:
        """Ask RMF's door supervisor for a door mode (rmf_door_msgs/DoorMode value)."""
        from rmf_door_msgs.msg import DoorMode, DoorRequest

        self._publishers[r.ADAPTER_DOOR_REQUESTS].publish(
            DoorRequest(
                request_time=self.node.get_clock().now().to_msg(),
                requester_id=requester_id,
                door_name=door_name,
                requested_mode=DoorMode(value=mode),
            )
        )

    def publish_lift_request(
        self,
        lift_name: str,
        destination_floor: str,
        request_type: int,
        door_state: int,
        session_id: str,
    ) -> None:
        """Ask RMF's lift supervisor to move a lift (rmf_lift_msgs/LiftRequest values)."""
        from rmf_lift_msgs.msg import LiftRequest

        self._publishers[r.ADAPTER_LIFT_REQUESTS].publish(
            LiftRequest(
                lift_name=lift_name,
                request_time=self.node.get_clock().now().to_msg(),
                session_id=session_id,
                request_type=request_type,
                destination_floor=destination_floor,
                door_state=door_state,
            )
        )

    def publish_fire_alarm_reset(self) -> None:
        """Turn RMF's fire alarm trigger off, as rmf-web does (``false`` on its topic)."""
        from std_msgs.msg import Bool

        self._publishers[r.FIRE_ALARM_TRIGGER].publish(Bool(data=False))

    def publish_mutex_group_release(self, fleet: str, robot: str, mutex_group: str) -> None:
        """Release a mutex group a robot holds (rmf_fleet_msgs/MutexGroupManualRelease)."""
        from rmf_fleet_msgs.msg import MutexGroupManualRelease

        self._publishers[r.MUTEX_GROUP_MANUAL_RELEASE].publish(
            MutexGroupManualRelease(release_mutex_groups=[mutex_group], fleet=fleet, robot=robot)
        )

    def publish_delivery_alert_response(self, alert: dict[str, Any]) -> None:
        """Answer a delivery alert: the alert, with the operator's action (rmf-web's enums)."""
        from rmf_fleet_msgs.msg import (
            DeliveryAlert,
            DeliveryAlertAction,
            DeliveryAlertCategory,
            DeliveryAlertTier,
        )

        self._publishers[r.DELIVERY_ALERT_RESPONSE].publish(
            DeliveryAlert(
                id=str(alert["id"]),
                category=DeliveryAlertCategory(
                    value=convert.DELIVERY_ALERT_CATEGORIES.index(alert["category"])
                ),
                tier=DeliveryAlertTier(value=convert.DELIVERY_ALERT_TIERS.index(alert["tier"])),
                task_id=str(alert["task_id"]),
                action=DeliveryAlertAction(
                    value=convert.DELIVERY_ALERT_ACTIONS.index(alert["action"])
                ),
                message=str(alert.get("message", "")),
            )
        )

    def publish_alert_response(self, alert_id: str, response: str) -> None:
        """Answer an RMF alert; needs Kilted's interfaces (Jazzy's have no alerts)."""
        from rmf_task_msgs import msg as task_msgs

        if r.ALERT_RESPONSE not in self._publishers:
            raise RuntimeError("this distro's rmf_task_msgs has no AlertResponse (Kilted or later)")
        self._publishers[r.ALERT_RESPONSE].publish(
            task_msgs.AlertResponse(id=alert_id, response=response)
        )
