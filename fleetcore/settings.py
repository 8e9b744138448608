"""fleethub's settings, by component, read from ``FLEETHUB_*`` and an optional TOML file.

Each part reads one or a few sections (:class:`HubSettings`, :class:`DeriveSettings`,
:class:`ProxySettings`...); ``fleethub <command>`` offers the flags of the sections that
command runs (``COMMAND_SECTIONS`` in ``fleethub/cli.py``), so ``fleethub migrate
--sim-robots`` is refused rather than silently ignored. A new setting goes in the section of
the part that reads it, prefixed by that part's name. A process holds one :class:`Settings`, the union of every
section, so a part never has to be handed a settings object per section, and the flat field
names are the environment names: ``derive_stale_s`` is ``FLEETHUB_DERIVE_STALE_S``.

Precedence: explicit overrides (CLI flags) > environment > TOML file
(``FLEETHUB_CONFIG`` or ``--config``) > a run mode's defaults (:data:`UP_DEFAULTS`) >
the defaults written here, once (:data:`DEFAULTS` for code that needs one as its own
default). The defaults give the embedded system: a SQLite file under the data directory,
the in-process bus, everything on 127.0.0.1.

The environment is read by pydantic-settings (prefix ``FLEETHUB_``); a ``Settings(...)``
built in code reads nothing but its arguments, so tests and embedded parts never pick up
the environment by accident.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from fleetcore.contract.ingest import MAX_FRAME_BYTES, MAX_MAP_BYTES
from fleetcore.errors import ConfigError

ENV_PREFIX = "FLEETHUB_"


class _Section(BaseModel):
    """A group of settings one component reads; its fields' docstrings are their ``--help``."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", use_attribute_docstrings=True, coerce_numbers_to_str=True
    )


class CommonSettings(_Section):
    """What every command reads: where its files go, what it binds, how it logs."""

    data_dir: Path = Path("./data")
    """Where the embedded SQLite database and cached map images live."""
    host: str = "127.0.0.1"
    """Interface every listener binds to."""
    port_file: str = ""
    """When set, every server of the process writes the port it listens on into this JSON file
    (``{"api": 8000}``; keys ``hub``, ``proxy``, ``api``, ``sim_control``), so whoever starts it
    with port 0 (any free port) learns the port it got."""
    log_level: str = "INFO"
    """Level of the process's log: ``DEBUG``, ``INFO``, ``WARNING`` or ``ERROR``."""


class StoreSettings(_Section):
    """The database (the hub writes it, the REST API reads it, ``migrate`` and ``user`` change it)."""

    database_url: str = ""
    """Empty: ``sqlite://<data_dir>/fleethub.sqlite3``. ``postgres://...`` for PostgreSQL."""


class BusSettings(_Section):
    """The bus between the hub, the proxies and the REST readers."""

    redis_url: str = ""
    """Empty: the in-process bus (only for ``fleethub up``). Set it to scale out."""
    redis_prefix: str = "fleethub"
    """Key prefix for every Redis key, so several deployments can share one Redis."""
    replay_window: int = 1000
    """Publications kept per log room for resume with ``since``."""
    redis_stream_keep: int = 20_000
    """Publications kept (roughly) in Redis's global stream: a reader further behind resyncs."""


class AccessSettings(_Section):
    """Whether fleethub checks who may do what (the hub too: scheduled tasks run with their owner's grants)."""

    auth_mode: str = "jwt"
    """``jwt``: every REST route but the public ones needs a bearer token. ``off``: no checks
    at all, everyone is an admin (logged as a warning at start; for tests and local demos)."""


class AuthSettings(AccessSettings):
    """How bearer tokens are verified (REST API and proxies)."""

    jwt_algorithms: Annotated[tuple[str, ...], NoDecode] = ("HS256",)
    """The only algorithms a token may be signed with (comma separated), e.g. ``RS256,ES256`` for OIDC."""
    jwt_secret: str = ""
    """HS256 key (32+ bytes), the same for the REST API and every proxy; with auth on and HS256
    pinned a separately run proxy or API refuses to start without it. ``fleethub up`` generates
    one on first run into ``<data_dir>/jwt_secret``."""
    jwt_allow_weak_secret: bool = False
    """Take a ``jwt_secret`` shorter than 32 bytes, such as rmf-web's demo secret ``rmfisawesome``
    (with ``jwt_issuer=stub``, ``jwt_audience=rmf_api_server``), logged as a warning at start.
    Anyone who knows such a secret can sign tokens: for demos only, never a default."""
    jwt_public_key: str = ""
    """Path of a PEM public key that verifies RS256/ES256 tokens (instead of a JWKS URL)."""
    jwks_url: str = ""
    """An OIDC provider's JWKS (e.g. Keycloak's ``.../protocol/openid-connect/certs``); keys are
    cached and fetched again when a token names an unknown ``kid``."""
    jwks_cooldown_s: float = 30.0
    """Least time between two JWKS fetches forced by unknown kids (a rotated key may wait this
    long; random kids cannot make fleethub flood the identity provider)."""
    jwt_audience: str = "fleethub"
    """Required ``aud`` of every token; empty: tokens must carry no audience."""
    jwt_issuer: str = "fleethub"
    """Required ``iss`` of every token; empty: the issuer is not checked."""
    jwt_user_claim: str = "preferred_username"
    """The claim naming the user; ``sub`` is used when a token lacks it."""
    auth_cache_s: float = 5.0
    """How long a user's grants are cached after a read from the user store."""


class WebSettings(_Section):
    """What browsers see of the REST API and the proxies: origins, public URL, image URLs."""

    public_url: str = ""
    """The URL browsers reach the REST API under (``https://host[/prefix]``), as rmf-web's
    ``public_url``: building-map image URLs are made absolute under it. Empty: the scheme and host
    each request came to (``X-Forwarded-Proto``/``-Host`` behind a proxy)."""
    image_url_ttl_s: int = 86_400
    """How long a building-map image URL works: between this and twice this after it was handed
    out (URLs are signed per period, so every client of a period gets the same bytes)."""
    url_signing_key: str = ""
    """Signs building-map image URLs (32+ bytes), the same for the REST API and every proxy.
    Empty: derived from ``jwt_secret``; with auth on and no HS256 secret, required."""
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    """Browser origins (``https://host[:port]``, comma separated) allowed to call the REST API and
    socket.io besides ``public_url``'s, localhost and the server's own IP address; ``*`` allows any
    origin (never the default). A request with another ``Origin`` is refused (403). A server
    browsers reach by name needs its name here or in ``public_url``: an ``Origin`` that merely
    equals the ``Host`` header is what DNS rebinding forges."""


class RestSettings(_Section):
    """The REST API."""

    api_port: int = 8000
    """REST API, OpenAPI and the dashboard. ``fleethub up`` serves everything here."""
    api_max_body_bytes: int = 1 << 20
    """Largest REST request body; a larger one is refused with 413."""
    command_reply_timeout_s: float = 5.0
    """How long a command request waits for RMF's answer before it is answered 202 (pending)."""
    token_ttl_s: int = 3600
    """Lifetime of the tokens ``POST /auth/token`` issues (embedded users)."""
    login_attempts_per_min: float = 30.0
    """POST /auth/token attempts allowed per client address and username a minute (a burst of
    as many), so passwords cannot be guessed fast; over it: 429 with Retry-After."""


class GraphqlSettings(_Section):
    """The GraphQL endpoint of the REST API (``/graphql``): its page, its introspection, its limits."""

    graphql_ide: bool = False
    """Serve the GraphiQL page on ``GET /graphql`` (browsers). Off: a production API shows no
    playground; ``fleethub up`` turns it on."""
    graphql_introspection: bool = True
    """Answer introspection queries (``__schema``); the SDL stays at ``/graphql/schema.graphql``."""
    graphql_max_depth: int = 10
    """Deepest selection a document may nest; a deeper one is refused before it runs."""
    graphql_max_aliases: int = 15
    """Most aliased fields in one document (aliases multiply the work of one request)."""
    graphql_max_tokens: int = 2000
    """Most lexical tokens in one document: bounds parsing and the size of the query."""
    graphql_max_batch: int = 10
    """Most operations in one batched HTTP request (a JSON array of queries)."""
    graphql_max_subscriptions: int = 20
    """Most subscriptions one websocket connection may hold at once."""


class ProxySettings(_Section):
    """The socket.io proxy and its per-client limits."""

    proxy_port: int = 8200
    """socket.io for dashboards."""
    socket_max_message_bytes: int = 64 << 10
    """Largest socket.io message (or long-polling payload) a client may send; a larger one closes it."""
    socket_subscribe_rate: float = 20.0
    """subscribe/unsubscribe events a socket.io client may send per second, on average..."""
    socket_subscribe_burst: int = 200
    """...and at once (a dashboard subscribes to every door, lift and fleet when it loads)."""
    socket_command_rate: float = 1.0
    """Other events (``refresh_token``, unknown ones) a socket.io client may send per second..."""
    socket_command_burst: int = 10
    """...and at once. Over either limit an event is answered ``rate_limited`` and counted."""


class HubSettings(_Section):
    """The hub: its listener, leadership, ingest limits, commands and group commit."""

    hub_port: int = 8100
    """The hub's ingest websocket (/_internal), health and metrics."""
    hub_lease_s: float = 5.0
    """Leadership lease of a separately run hub: a standby takes over this long after the leader stops renewing."""
    hub_name: str = ""
    """This hub's name in the lease; empty: hostname:pid."""
    ingest_max_frame_bytes: int = MAX_FRAME_BYTES
    """Largest ingest frame of any type but the building map."""
    ingest_max_map_bytes: int = MAX_MAP_BYTES
    """Largest building-map frame (it carries images)."""
    command_site_wait_s: float = 10.0
    """How long the hub holds a command while no RMF site is connected, before it fails unsent."""
    ros_bridge: bool = False
    """Run the ROS 2 bridge inside the hub process (``hub`` and ``up``): RMF's topics are ingested
    directly and the hub's commands are published to RMF. Needs the ROS extra
    (scripts/build_ros_interfaces.sh); ``fleethub bridge`` is the same bridge at a site."""
    batch_max_rows: int = 5000
    """Group commit: a write batch closes at this many rows (a burst of 100 fleet states of
    50 robots brings 5,100 with their position samples, one commit)..."""
    batch_max_delay_ms: float = 5.0
    """...or this many milliseconds after its first row, whichever first."""


class SiteTokenSettings(_Section):
    """The site token: the hub requires it, every site presents it."""

    ingest_token: str = ""
    """Site token every /_internal connection presents (``?token=`` or ``Authorization: Bearer``).
    Required (16+ characters): a hub without one refuses to start; ``fleethub up`` generates
    one into ``<data_dir>/site_token``."""


class SiteSettings(_Section):
    """A site (``sim``, ``bridge``, ``vda5050``): where it finds the hub and how it watches it."""

    hub_url: str = ""
    """Where the simulator and a separate ros_bridge find the hub; empty: derived from host/hub_port."""
    site_heartbeat_s: float = 2.0
    """How long a site (``fleethub sim``, ``fleethub bridge``) lets the hub be silent before it
    pings it; without an answer half of that later, it deems the hub gone and reconnects (to the
    hub that leads by then). Keep it below ``hub_lease_s`` so a hung leader costs about the lease."""


class DeriveSettings(_Section):
    """The hub's derivations: stale, offline, stuck, battery, task and escalation thresholds."""

    derive_stale_s: float = 10.0
    """A robot with no update for this long is stale (it may just be a slow link)."""
    derive_offline_s: float = 30.0
    """A robot with no update for this long is offline: an event and an error alert."""
    derive_fleet_thresholds: str = ""
    """Per-fleet stale/offline seconds overriding the two above: ``fleetA=5/15,fleetB=20/60``."""
    derive_restart_grace_s: float = 30.0
    """After a hub start, no robot turns stale or offline for this long, so a restart is no storm."""
    derive_stuck_s: float = 60.0
    """A working robot whose pose has not changed for this long is stuck."""
    derive_stuck_distance_m: float = 0.05
    """Moves shorter than this do not count as moving (pose noise)."""
    derive_battery_low: float = 0.2
    """Battery fraction at or below which a robot's battery is low (warning alert)."""
    derive_battery_critical: float = 0.1
    """Battery fraction at or below which it is critical (error alert)."""
    derive_battery_hysteresis: float = 0.05
    """A low or critical battery clears only above its threshold plus this, so noise does not flap."""
    derive_task_stale_s: float = 300.0
    """An underway task whose state has not been updated for this long is stale."""
    derive_task_delay_tolerance: float = 0.25
    """An underway task is delayed once it has run longer than its estimate times (1 + this)."""
    derive_escalation_failures: int = 3
    """Failures (robot offline or in error, task failed) in a fleet within the window that raise a fleet alert."""
    derive_escalation_window_s: float = 300.0
    """The escalation window; the fleet alert clears once the window holds fewer failures and no robot is down."""
    derive_reassign: bool = False
    """Reassignment policy: a task whose robot goes offline or into error (status ``error``)
    mid-task is canceled and dispatched again once, to the robot's fleet, with the label ``reassigned_from=<task id>``. Off by
    default; ``fleethub up`` (the demo) turns it on unless this is set there."""
    derive_tick_ms: int = 1000
    """How often the hub checks time-based conditions (stale, offline, stuck, delayed)."""


class HistorySettings(_Section):
    """What history the hub keeps, and for how long."""

    retire_after_s: float = 3600.0
    """A task's rooms (state and log) and a command's outcome leave the live bus (the hub's
    restored set, Redis, the in-process bus) this long after their last publication, so the bus
    holds the live site, not its history. Their last value stays in the database, where
    subscribers and REST still find it. 0: rooms are never retired."""
    retire_interval_s: float = 60.0
    """How often the leading hub retires rooms."""
    history_position_interval_s: float = 1.0
    """A robot's position is sampled at most this often..."""
    history_position_distance_m: float = 0.1
    """...and only when it moved this far, turned, or changed map, status or battery level."""
    retention_positions_days: float = 7.0
    """Robot position samples older than this are pruned; 0 keeps them forever."""
    retention_logs_days: float = 30.0
    """Task and fleet log entries older than this are pruned, and acknowledged site sessions
    silent that long; 0 keeps them forever."""
    retention_events_days: float = 365.0
    """Derived events older than this are pruned; 0 keeps them forever."""
    retention_task_history_days: float = 365.0
    """Task state history older than this is pruned; 0 keeps it forever."""
    retention_alerts_days: float = 365.0
    """Alert requests, responses and resolutions older than this are pruned (a derived alert
    still open, and the answer to a request still kept, excepted); 0 keeps them forever."""
    retention_max_rows: int = 0
    """Most rows kept per history kind (the newest); 0: no limit by count."""
    retention_interval_s: float = 60.0
    """How often the hub prunes history."""
    retention_batch_rows: int = 2000
    """Rows deleted per statement, so pruning never holds the database for long."""


class MediaSettings(_Section):
    """Photos and video from the field (``api`` and ``up``): limits, storage, retention."""

    media_store_url: str = ""
    """Where media files go: empty for ``<data_dir>/media`` (the embedded default),
    ``file:///path`` for another directory, or ``s3://bucket/prefix`` for any S3-compatible
    store (credentials and region from the usual AWS variables)."""
    media_s3_endpoint_url: str = ""
    """The S3 endpoint, for a store that is not AWS (MinIO, Ceph, ...); empty: AWS's own."""
    media_image_max_bytes: int = 20 << 20
    """Largest image accepted (JPEG, PNG, WebP); a bigger upload is refused with 413."""
    media_video_max_bytes: int = 500 << 20
    """Largest video accepted (MP4, QuickTime, WebM); a bigger upload is refused with 413."""
    media_upload_dir: str = ""
    """Where uploads under way are kept (a part file and its description each): empty for
    ``<data_dir>/media/uploads``. Several API processes must share it (a shared volume, e.g.
    ReadWriteMany on Kubernetes) so an upload begun on one resumes on another; uploads are
    locked across processes with ``flock``. Otherwise route each upload to one process."""
    media_upload_expiry_s: float = 86_400.0
    """An upload not finished this long after its last byte is dropped with its partial file."""
    media_url_ttl_s: int = 600
    """How long a signed media URL (for ``<img>`` and ``<video>``) works, at least."""
    media_retention_days: float = 90.0
    """Media older than this is pruned; 0 keeps it forever."""
    media_retention_max_bytes: int = 0
    """Most bytes of media kept per kind (image, video), the latest captured first; 0: no limit."""
    media_prune_interval_s: float = 60.0
    """How often each API process prunes media and idle uploads."""
    media_thumbnail_px: int = 320
    """The longer side of an image's thumbnail."""


class SimSettings(_Section):
    """The simulated RMF fleet (``sim`` and ``up``)."""

    sim_robots: int = 10
    """Simulated robots (``fleethub up`` and ``fleethub sim``)."""
    sim_fleets: int = 2
    """Fleets the simulated robots are spread over."""
    sim_rate_hz: float = 2.0
    """How often the simulator publishes each fleet's state."""
    sim_auto_tasks_s: float = 8.0
    """Seconds between tasks the simulator creates by itself; 0 disables."""
    sim_seed: int = 7
    """Seed of the simulator's random choices, for reproducible demos."""
    sim_task_failure_probability: float = 0.05
    """Chance that a simulated dispenser or ingestor hand-over fails, failing its task (0 to 1)."""
    sim_robot_speed_mps: float = 0.7
    """How fast simulated robots drive (metres per second); faster makes short demos and tests."""
    sim_control_port: int = 0
    """Port of the simulator's control endpoint on 127.0.0.1 (stop and restart a simulated robot,
    for tests and demos; see ``simulator/control.py``). 0: no control endpoint; -1: any free
    port (written to ``port_file``)."""
    sim_media: bool = True
    """In ``fleethub up``, a simulated robot that is stuck or fails a task uploads a snapshot
    (and now and then a clip) over tus with a device token issued for it at startup, dropping
    the connection midway now and then (``simulator/media.py``). ``fleethub sim`` alone has no
    device tokens and uploads nothing."""
    sim_ros: bool = False
    """The simulator publishes its fleet, door and lift states over ROS 2 (fleet_states,
    door_states, lift_states) instead of /_internal, so they reach the hub through a bridge.
    Needs the ROS extra (scripts/build_ros_interfaces.sh)."""


class MqttSettings(_Section):
    """The MQTT link of the VDA 5050 master control (``fleetcore/mqtt.py``)."""

    mqtt_url: str = ""
    """The MQTT broker of the VDA 5050 vehicles: ``mqtt://host:1883`` or ``mqtts://host:8883``
    (credentials may be in the URL). Empty: ``fleethub up`` runs a broker in its own process
    (see ``mqtt_embedded_port``); ``fleethub vda5050`` refuses to start without one."""
    mqtt_username: str = ""
    """Overrides the URL's user name."""
    mqtt_password: str = ""
    """Overrides the URL's password."""
    mqtt_ca_file: str = ""
    """PEM bundle that verifies an ``mqtts://`` broker; empty: the system's trust store."""
    mqtt_cert_file: str = ""
    """Client certificate (PEM), for brokers that authenticate clients by certificate..."""
    mqtt_key_file: str = ""
    """...and its key."""
    mqtt_protocol: str = "3.1.1"
    """MQTT protocol version: ``3.1.1`` or ``5``."""
    mqtt_keepalive_s: int = 15
    """MQTT keep-alive; the broker declares a silent client gone after 1.5 times this."""
    mqtt_client_id: str = "fleethub-master-control"
    """The master control's MQTT client id (the broker's ACL names it)."""
    mqtt_embedded_port: int = 0
    """Port of the broker ``fleethub up`` embeds when ``mqtt_url`` is empty (on ``host``);
    0: a free port, printed at start."""


class Vda5050Settings(_Section):
    """The VDA 5050 master control (``vda5050/``)."""

    vda5050: bool = False
    """Run the VDA 5050 master control inside ``fleethub up`` (on in ``up``, the demo)."""
    vda5050_interface: str = "uagv"
    """The topics' interfaceName level: ``{interface}/{major}/{manufacturer}/{serial}/{topic}``."""
    vda5050_major: str = "v2"
    """The topics' majorVersion level."""
    vda5050_vehicles: str = ""
    """Which fleet and robot each vehicle is: ``acme/0001=forklifts/fl1, acme/0002=forklifts/fl2``."""
    vda5050_default_fleet: str = "vda5050"
    """The fleet unknown vehicles join (as their serial number); empty: unknown vehicles are refused."""
    vda5050_max_vehicles: int = 1000
    """Most vehicles the master control keeps; more unknown ones are refused."""
    vda5050_nav_graph: str = ""
    """A building map JSON (as ``GET /building_map`` answers) whose nav graphs the vehicles drive on,
    one map per level; empty: the simulated site's (the demo's) map."""
    vda5050_nav_graph_name: str = ""
    """Which nav graph of each level; empty: the first."""
    vda5050_release_nodes: int = 4
    """Nodes of an order released ahead of the vehicle (the base); the rest is horizon."""
    vda5050_horizon_nodes: int = 20
    """Unreleased nodes shown after the base."""
    vda5050_node_deviation_m: float = 0.5
    """``allowedDeviationXY`` of order nodes."""
    vda5050_state_timeout_s: float = 60.0
    """A vehicle whose last state is older than this leaves its fleet's state (the spec asks
    for a state at least every 30 s)."""
    vda5050_resend_s: float = 3.0
    """An order update or cancel the vehicle's state does not show after this long is sent again."""
    vda5050_max_message_bytes: int = 256 << 10
    """Largest message taken from a vehicle."""
    vda5050_blocked_alert_s: float = 60.0
    """A vehicle traffic control holds back this long gets the ``traffic_blocked`` issue (and the
    hub's warning alert) until it moves on."""
    vda5050_battery_critical: float = 0.1
    """At or below this charge (0..1) a VDA 5050 vehicle takes no task and goes to charge."""
    vda5050_battery_drain_per_m: float = 0.0005
    """Charge (0..1) a metre of driving costs, to check a vehicle can afford a task and the way
    on to a charger (0.0005: 5 % per 100 m, the simulated vehicles' drain)."""
    vda5050_idle_policy: Literal["stay", "park", "charge"] = "stay"
    """Where an idle VDA 5050 vehicle goes: ``stay`` where its last task ended (traffic control
    moves it aside when another needs its node), or return to the nearest free ``park``ing spot
    or ``charge``r once idle ``vda5050_idle_after_s``."""
    vda5050_idle_after_s: float = 60.0
    """How long a vehicle is idle before the idle policy sends it back (a task may come first)."""
    vda5050_replan: bool = True
    """A queued task waiting for a busy vehicle goes to another that frees up and is now cheaper;
    off: it keeps the vehicle it waits for (its task log said which), while that one can take it."""
    vda5050_detour_slack: float = 1.5
    """A vehicle held back by traffic control takes a way over nodes and lanes no other vehicle
    holds when it is at most this many times the shortest (1.5 measured best on a grid in
    bench/vda5050_traffic.py); 0: it waits for the holder."""
    vda5050_held_toll_m: float = 2.0
    """A new order's route prices each lane of its first leg onto a node or lane another vehicle
    holds this many metres more: of the ways about as short it takes one around held stretches
    (2 m, under one 5 m lane: a tie-breaker on a grid, measured in bench/vda5050_traffic.py); 0:
    the shortest, whoever holds it."""
    vda5050_fleet_state_per_robot_s: float = 0.00005
    """A fleet's state goes to the hub at most every (its robots x this) seconds, changes in
    between coalesce (200 robots: every 10 ms), so the hub keeps up with large fleets; the first
    report after a quiet window goes at once, no report waits longer (``vda5050/pacing.py``)."""
    vda5050_port: int = 8400
    """Health and metrics of ``fleethub vda5050`` (``/healthz``, ``/readyz``, ``/metrics``)."""


class Vda5050SimSettings(_Section):
    """The simulated VDA 5050 vehicles ``fleethub up`` runs."""

    vda5050_sim_vehicles: int = 0
    """Simulated VDA 5050 vehicles ``fleethub up`` runs as outside MQTT clients (3 in ``up``)."""
    vda5050_sim_speed_mps: float = 1.0
    """How fast simulated vehicles drive."""
    vda5050_sim_rate_hz: float = 2.0
    """How often simulated vehicles publish their state (the spec's 1-2 Hz)."""
    vda5050_sim_action_s: float = 3.0
    """How long a simulated pick or drop takes."""
    vda5050_sim_failure_probability: float = 0.0
    """Chance that a simulated pick or drop fails (an action FAILED and an error), 0 to 1."""


class Settings(
    CommonSettings,
    StoreSettings,
    BusSettings,
    AuthSettings,
    WebSettings,
    RestSettings,
    GraphqlSettings,
    ProxySettings,
    HubSettings,
    SiteTokenSettings,
    SiteSettings,
    DeriveSettings,
    HistorySettings,
    MediaSettings,
    SimSettings,
    MqttSettings,
    Vda5050Settings,
    Vda5050SimSettings,
    BaseSettings,
):
    """Every section: what one process runs with (see the module's docstring)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        coerce_numbers_to_str=True,
    )

    @field_validator("jwt_algorithms", "allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """A list may be given as ``a,b`` (flags, environment) or as a TOML array."""
        items = value.split(",") if isinstance(value, str) else value
        return tuple(str(item).strip() for item in items if str(item).strip())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the arguments: the environment is read by :meth:`load`, never implicitly."""
        return (init_settings,)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'fleethub.sqlite3').as_posix()}"

    @property
    def resolved_hub_url(self) -> str:
        return self.hub_url or f"http://{self.host}:{self.hub_port}"

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        config_file: str | Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> Settings:
        """Build the settings; raise :class:`ConfigError` naming the bad key.

        ``defaults`` replace the embedded defaults of a run mode (e.g. :data:`UP_DEFAULTS`);
        the file, the environment and the overrides still win over them.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = dict(defaults or {})
        path = config_file or env.get(ENV_PREFIX + "CONFIG")
        if path:
            values.update(_read_file(Path(path)))
        values.update(_from_environment(env))
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(_describe(exc)) from None

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` (values of the fields' own types: they are not converted)."""
        return self.model_copy(update=changes)


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The ``FLEETHUB_*`` variables of ``environ`` that name a setting, by field name."""
    source = EnvSettingsSource(Settings, env_prefix=ENV_PREFIX, case_sensitive=False)
    source.env_vars = {name.lower(): value for name, value in environ.items()}
    return source()


def _describe(error: ValidationError) -> str:
    """The first problem, named by its environment variable (as the flag and the file key say)."""
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else ""
    return f"{ENV_PREFIX}{name.upper()}: {first['msg']} (got {first.get('input')!r})"


DEFAULTS: Final = Settings()
"""The embedded defaults, for code that takes one setting as its own default
(``replay_window: int = DEFAULTS.replay_window``), so each default is written once."""

UP_DEFAULTS: Mapping[str, Any] = MappingProxyType(
    {"derive_reassign": True, "vda5050": True, "vda5050_sim_vehicles": 3, "graphql_ide": True}
)
"""Where ``fleethub up`` differs from the defaults: the demo shows a stopped robot's task
dispatched again, VDA 5050 vehicles beside the RMF fleets, and the GraphiQL page."""


def _read_file(path: Path) -> dict[str, Any]:
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    unknown = sorted(set(doc) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"config file {path}: unknown keys {unknown}")
    return doc


def field_docs() -> dict[str, str]:
    """Each setting's docstring on one line, for ``--help``."""
    return {
        name: " ".join((info.description or "").split())
        for name, info in Settings.model_fields.items()
    }


__all__ = [
    "DEFAULTS",
    "ENV_PREFIX",
    "UP_DEFAULTS",
    "AccessSettings",
    "AuthSettings",
    "BusSettings",
    "CommonSettings",
    "DeriveSettings",
    "GraphqlSettings",
    "HistorySettings",
    "HubSettings",
    "MediaSettings",
    "MqttSettings",
    "ProxySettings",
    "RestSettings",
    "Settings",
    "SimSettings",
    "SiteSettings",
    "SiteTokenSettings",
    "StoreSettings",
    "Vda5050Settings",
    "Vda5050SimSettings",
    "WebSettings",
    "field_docs",
]
