"""Prometheus metrics every process exposes at /metrics.

Names are part of the operational contract: dashboards and alerts use them.
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

INGEST_MESSAGES = Counter(
    "fleethub_ingest_messages_total", "Ingest messages accepted, by type.", ["type"]
)
INGEST_REJECTED = Counter(
    "fleethub_ingest_rejected_total", "Ingest messages rejected, by reason.", ["reason"]
)
INGEST_CONNECTIONS = Gauge("fleethub_ingest_connections", "Open /_internal connections.")
INGEST_DUPLICATES = Counter(
    "fleethub_ingest_duplicates_total",
    "Numbered frames an acknowledged site sent again after a reconnect, already taken: dropped.",
)
PUBLICATIONS = Counter(
    "fleethub_publications_total", "Publications made by the hub, by room kind.", ["kind"]
)
WRITE_BATCHES = Counter("fleethub_store_batches_total", "Write batches committed by the hub.")
WRITE_ROWS = Counter("fleethub_store_rows_total", "Rows written by the hub.")
WRITE_DROPPED = Counter(
    "fleethub_store_dropped_changes_total",
    "Accepted changes the database refused, dropped alone so the rest commits, by error.",
    ["error"],
)
STORE_COMMIT = Histogram(
    "fleethub_store_commit_seconds",
    "Time one write batch's transaction took, from its start to its commit: the database's"
    " share of ingest to publish (what is left is the hub's own work and its queue).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
INGEST_TO_PUBLISH = Histogram(
    "fleethub_ingest_to_publish_seconds",
    "Time from receiving an ingest message to publishing it.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)
COMMANDS = Counter(
    "fleethub_commands_total", "Commands the hub recorded and sent to RMF, by kind.", ["kind"]
)
COMMAND_REPEATS = Counter(
    "fleethub_command_repeats_total",
    "Commands whose idempotency key was already recorded: answered, not acted on again.",
)
COMMAND_RESPONSES_IGNORED = Counter(
    "fleethub_command_responses_ignored_total",
    "RMF answers the hub ignored, by reason (duplicate, late, unknown, no_executor, declined:"
    " a bidder passed a dispatch naming no fleet on).",
    ["reason"],
)
COMMAND_LATENCY = Histogram(
    "fleethub_command_seconds",
    "Time from the hub recording a command to RMF's answer completing it.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
COMMAND_KEYS_REFUSED = Counter(
    "fleethub_command_keys_refused_total",
    "Idempotency-Keys refused (422) before any command was sent, by reason "
    "(not_printable, too_long, reserved).",
    ["reason"],
)
COMMAND_KEY_CONFLICTS = Counter(
    "fleethub_command_key_conflicts_total",
    "Commands refused because their idempotency key was used before for a different request.",
)
COMMANDS_RECONCILED = Counter(
    "fleethub_commands_reconciled_total",
    "Commands a hub found pending from an earlier term, by outcome (done, unknown).",
    ["outcome"],
)
LEADER_ROLE_STEPS = Counter(
    "fleethub_leader_role_steps_total",
    "Rounds a leader role (task scheduler, reassigner) finished without failing, by role: "
    "on the leading hub it grows every period; one that stops growing is stuck.",
    ["role"],
)
SCHEDULED_OCCURRENCES = Counter(
    "fleethub_scheduled_occurrences_total",
    "Occurrences of scheduled tasks, by what became of them (dispatched, missed; refused: "
    "their owner may no longer dispatch them).",
    ["outcome"],
)
CLIENTS = Gauge("fleethub_socket_clients", "Connected socket.io clients.")
SUBSCRIPTIONS = Gauge("fleethub_socket_subscriptions", "Active room subscriptions.")
SUBSCRIBE_REJECTED = Counter(
    "fleethub_subscribe_rejected_total", "Subscribe requests refused, by reason.", ["reason"]
)
DELIVERED = Counter("fleethub_socket_messages_total", "Messages written to socket.io clients.")
RESYNCS = Counter("fleethub_socket_resyncs_total", "Clients told to resync instead of replayed.")
SOCKET_CONNECT_REJECTED = Counter(
    "fleethub_socket_connect_rejected_total",
    "socket.io connections refused, by reason (missing_token, expired, bad_signature...).",
    ["reason"],
)
SOCKET_EVENTS_REJECTED = Counter(
    "fleethub_socket_events_rejected_total",
    "socket.io events other than subscribe refused, by event and reason (rate_limited...).",
    ["event", "reason"],
)
SOCKET_CLOSED = Counter(
    "fleethub_socket_closed_total",
    "socket.io connections the proxy closed, by reason (token_expired, message_too_large).",
    ["reason"],
)
HTTP_REJECTED = Counter(
    "fleethub_http_rejected_total",
    "HTTP requests refused before their handler, by reason (origin_not_allowed, body_too_large, "
    "malformed_request).",
    ["reason"],
)

AUTH_REJECTED = Counter(
    "fleethub_auth_rejected_total",
    "Requests and connections refused authentication, by reason (expired, bad_signature...).",
    ["reason"],
)
LOGINS_THROTTLED = Counter(
    "fleethub_auth_logins_throttled_total",
    "POST /auth/token attempts refused (429) because their address tried too often.",
)
MEDIA_UPLOADS = Counter(
    "fleethub_media_uploads_total", "Media uploads finished and stored, by kind.", ["kind"]
)
MEDIA_UPLOAD_BYTES = Counter(
    "fleethub_media_upload_bytes_total", "Bytes of media received (resumed uploads included)."
)
MEDIA_REJECTED = Counter(
    "fleethub_media_rejected_total",
    "Media upload requests refused, by reason (too_large, unsupported_type, type_mismatch, "
    "bad_metadata, checksum_mismatch, offset_mismatch, forbidden, ...).",
    ["reason"],
)
MEDIA_PRUNED = Counter(
    "fleethub_media_pruned_total", "Media removed by retention, by kind.", ["kind"]
)
GRAPHQL_ERRORS = Counter(
    "fleethub_graphql_errors_total",
    "GraphQL errors answered: ``refused`` (the client's: syntax, limits, not found, bad input)"
    " or ``internal`` (logged with a traceback, answered with no detail).",
    ["kind"],
)
AUTH_FORBIDDEN = Counter(
    "fleethub_auth_forbidden_total",
    "Authenticated requests refused for a missing permission, by operation.",
    ["operation"],
)


# --- VDA 5050 master control (vda5050/) ---------------------------------------------------
VDA_MESSAGES = Counter(
    "fleethub_vda5050_messages_total",
    "VDA 5050 messages taken from vehicles, by topic (state, connection, factsheet, visualization).",
    ["topic"],
)
VDA_REJECTED = Counter(
    "fleethub_vda5050_rejected_total",
    "VDA 5050 messages refused, by reason (malformed_json, invalid_field, non_finite_number, "
    "message_too_large, unsupported_version, wrong_vehicle, unknown_vehicle...).",
    ["reason"],
)
VDA_OUTDATED = Counter(
    "fleethub_vda5050_outdated_total",
    "Valid VDA 5050 states dropped because a newer one (a higher headerId) was already taken.",
)
VDA_UNKNOWN_VEHICLES = Counter(
    "fleethub_vda5050_unknown_vehicles_total",
    "Vehicles no configuration names that appeared, by what was done (registered, refused).",
    ["action"],
)
VDA_SENT = Counter(
    "fleethub_vda5050_sent_total",
    "VDA 5050 messages the master control published, by kind (order, order_update, "
    "order_resend, cancel, cancel_resend, and operators' startPause, stopPause).",
    ["kind"],
)
VDA_ONLINE = Gauge(
    "fleethub_vda5050_vehicles_online", "VDA 5050 vehicles whose connection is ONLINE."
)
VDA_TRAFFIC_CONFLICTS = Counter(
    "fleethub_vda5050_traffic_conflicts_total",
    "Nodes or lanes a vehicle was found on while another held them (two vehicles reported on "
    "one node, or a restored order overlapping another); traffic control keeps this at 0.",
)
VDA_DEADLOCKS = Counter(
    "fleethub_vda5050_deadlocks_total",
    "Vehicles that would have waited forever, by what traffic control did: reroute, yield "
    "(a cycle broken), move_aside (a parked vehicle in the way sent off), unresolved.",
    ["resolution"],
)
VDA_TRAFFIC_WAITS = Counter(
    "fleethub_vda5050_traffic_waits_total",
    "Times a vehicle's base stopped short because another vehicle held the next node or lane.",
)


async def metrics_handler(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
