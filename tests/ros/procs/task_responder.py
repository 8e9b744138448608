"""Answers every task API request as RMF does, plus a repeat and a stranger, until stdin closes.

For each ApiRequest on task_api_requests it prints ``request <id> <json>``
and publishes on task_api_responses: an acknowledgement, the answer, the same
answer again, and an answer to a request id nobody sent.
"""

from __future__ import annotations

import json

from _common import LATCHED, run, say
from rclpy.node import Node
from rmf_task_msgs.msg import ApiRequest, ApiResponse


def setup(node: Node) -> None:
    responses = node.create_publisher(ApiResponse, "task_api_responses", LATCHED)

    def on_request(msg: ApiRequest) -> None:
        say(f"request {msg.request_id} {msg.json_msg}")
        answer = json.dumps(
            {"success": True, "state": {"booking": {"id": f"task-for-{msg.request_id}"}}}
        )
        responses.publish(ApiResponse(type=ApiResponse.TYPE_ACKNOWLEDGE, request_id=msg.request_id))
        for _ in range(2):
            responses.publish(
                ApiResponse(
                    type=ApiResponse.TYPE_RESPONDING, request_id=msg.request_id, json_msg=answer
                )
            )
        responses.publish(
            ApiResponse(
                type=ApiResponse.TYPE_RESPONDING, request_id="not-from-this-bridge", json_msg="{}"
            )
        )

    node.create_subscription(ApiRequest, "task_api_requests", on_request, LATCHED)
    say("ready")


if __name__ == "__main__":
    run("fleethub_test_responder", setup)
