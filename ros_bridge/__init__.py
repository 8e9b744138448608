"""ros_bridge: Open-RMF over ROS 2 (rclpy) into the fleethub hub.

It subscribes to RMF's topics with RMF's QoS, converts each message to the
hub's ingest JSON and hands it to an :class:`~ros_bridge.sink.IngestSink`
(in the hub process, or :class:`~ros_bridge.sink.WebSocketSink` to a remote
hub); it publishes RMF requests (task API, door and lift requests, alert
responses). rclpy is optional: install it, with fleethub's own RMF interface
packages, by ``scripts/build_ros_interfaces.sh``. Only
:mod:`ros_bridge.bridge` and :mod:`ros_bridge.routes` import rclpy.
"""
