"""The handlers a bus calls, shared by every implementation."""

from __future__ import annotations

from collections.abc import Sequence

from fleetcore.bus.base import PublicationHandler, ResyncHandler
from fleetcore.contract.envelope import Publication
from fleetcore.log import bus_logger


class Listeners:
    """Publication and resync handlers; a failing handler is logged and never stops the others."""

    def __init__(self) -> None:
        self._publications: list[PublicationHandler] = []
        self._resyncs: list[ResyncHandler] = []

    def __bool__(self) -> bool:
        """Whether anyone wants publications (a bus may then skip decoding them)."""
        return bool(self._publications)

    def any(self) -> bool:
        """Whether anyone listens at all, to publications or to resyncs."""
        return bool(self._publications or self._resyncs)

    def add(self, handler: PublicationHandler) -> None:
        self._publications.append(handler)

    def remove(self, handler: PublicationHandler) -> None:
        if handler in self._publications:
            self._publications.remove(handler)

    def add_resync(self, handler: ResyncHandler) -> None:
        self._resyncs.append(handler)

    def remove_resync(self, handler: ResyncHandler) -> None:
        if handler in self._resyncs:
            self._resyncs.remove(handler)

    def clear(self) -> None:
        self._publications.clear()
        self._resyncs.clear()

    async def emit(self, batch: Sequence[Publication]) -> None:
        for handler in list(self._publications):
            try:
                await handler(batch)
            except Exception:
                bus_logger.exception("bus listener %r failed", handler)

    async def resync(self, reason: str) -> None:
        for handler in list(self._resyncs):
            try:
                await handler(reason)
            except Exception:
                bus_logger.exception("bus resync listener %r failed", handler)
