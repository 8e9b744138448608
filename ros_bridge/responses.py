"""Which task API responses the bridge forwards: one per request it sent.

RMF answers a request on ``task_api_responses`` (transient local), which every
client reads: a bridge sees answers to other clients' requests, old answers
replayed when it joins, and an answer repeated. Only the first final answer
to a request this bridge published is forwarded; the rest are counted.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

TYPE_ACKNOWLEDGE = 1
"""rmf_task_msgs/ApiResponse.TYPE_ACKNOWLEDGE: received, the answer follows later."""


@dataclass(slots=True)
class ResponseStats:
    forwarded: int = 0
    duplicate: int = 0
    unknown: int = 0
    acknowledged: int = 0


class ResponseTracker:
    """Request ids in flight and recently answered, both bounded (oldest forgotten)."""

    def __init__(self, max_tracked: int = 10_000) -> None:
        self._max = max_tracked
        self._pending: OrderedDict[str, None] = OrderedDict()
        self._answered: OrderedDict[str, None] = OrderedDict()
        self.stats = ResponseStats()

    def expect(self, request_id: str) -> None:
        """Record a request this bridge is about to publish."""
        self._remember(self._pending, request_id)

    def knows(self, request_id: str) -> bool:
        """Whether this request was published already (pending or answered)."""
        return request_id in self._pending or request_id in self._answered

    def admit(self, request_id: str, response_type: int) -> bool:
        """True if this response completes a pending request and should be forwarded."""
        if request_id in self._pending:
            if response_type == TYPE_ACKNOWLEDGE:
                self.stats.acknowledged += 1
                return False
            del self._pending[request_id]
            self._remember(self._answered, request_id)
            self.stats.forwarded += 1
            return True
        if request_id in self._answered:
            self.stats.duplicate += 1
        else:
            self.stats.unknown += 1
        return False

    def _remember(self, ids: OrderedDict[str, None], request_id: str) -> None:
        ids[request_id] = None
        ids.move_to_end(request_id)
        while len(ids) > self._max:
            ids.popitem(last=False)
