"""The hub: the single writer. Ingests, derives, stores, then publishes.

Follow a message: ``ingest_ws`` (the /_internal websocket) decodes it with
the contract, ``changes`` turns it into publications and rows, ``writer``
numbers, commits and publishes them in batches, ``service`` ties it together
and restores state on start.
"""

from hub.service import Hub

__all__ = ["Hub"]
