"""The REST readers: rmf-web's GET paths and JSON shapes over aiohttp.

Latest state comes from the bus's sticky store, history and queries from the
database; every state read says which stream position it reflects, so a
client can subscribe from there without a gap. Nothing here publishes or
writes RMF data.
"""

from rest_api.app import add_routes, create_app

__all__ = ["add_routes", "create_app"]
