"""The socket.io proxy: stateless fan-out of the hub's publications to dashboards.

``handler_socketio`` speaks rmf-web's protocol (subscribe/unsubscribe), with
fleethub's extensions (``since`` and envelopes); ``fanout`` owns who is in
which room and writes each publication, encoded once, to every subscriber;
``recovery`` is the pure merge of history and live publications on resume.
"""
