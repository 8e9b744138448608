"""The shared kernel of fleethub: what every process needs and agrees on.

Settings, the wire contract (rooms, envelopes, RMF models, ingest messages),
the bus between the hub and its readers, and the database models. Nothing in
here imports ``hub``, ``proxy``, ``rest_api``, ``ros_bridge`` or ``simulator``.
"""
