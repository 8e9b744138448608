"""The fleethub command: each command documents and takes its own options, clear configuration errors."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fleetcore.settings import Settings
from fleethub.cli import COMMANDS, command_options, main

TODAYS_ENVIRONMENT = """
FLEETHUB_DATA_DIR FLEETHUB_DATABASE_URL FLEETHUB_REDIS_URL FLEETHUB_REDIS_PREFIX FLEETHUB_HOST
FLEETHUB_PORT_FILE FLEETHUB_HUB_PORT FLEETHUB_PROXY_PORT FLEETHUB_API_PORT FLEETHUB_HUB_URL
FLEETHUB_HUB_LEASE_S FLEETHUB_HUB_NAME FLEETHUB_SITE_HEARTBEAT_S FLEETHUB_INGEST_TOKEN
FLEETHUB_INGEST_MAX_FRAME_BYTES FLEETHUB_INGEST_MAX_MAP_BYTES FLEETHUB_AUTH_MODE
FLEETHUB_JWT_ALGORITHMS FLEETHUB_JWT_SECRET FLEETHUB_JWT_ALLOW_WEAK_SECRET FLEETHUB_JWT_PUBLIC_KEY
FLEETHUB_JWKS_URL FLEETHUB_JWKS_COOLDOWN_S FLEETHUB_JWT_AUDIENCE FLEETHUB_JWT_ISSUER
FLEETHUB_JWT_USER_CLAIM FLEETHUB_TOKEN_TTL_S FLEETHUB_AUTH_CACHE_S FLEETHUB_LOGIN_ATTEMPTS_PER_MIN
FLEETHUB_PUBLIC_URL FLEETHUB_IMAGE_URL_TTL_S FLEETHUB_URL_SIGNING_KEY FLEETHUB_ALLOWED_ORIGINS
FLEETHUB_API_MAX_BODY_BYTES FLEETHUB_SOCKET_MAX_MESSAGE_BYTES FLEETHUB_SOCKET_SUBSCRIBE_RATE
FLEETHUB_SOCKET_SUBSCRIBE_BURST FLEETHUB_SOCKET_COMMAND_RATE FLEETHUB_SOCKET_COMMAND_BURST
FLEETHUB_COMMAND_REPLY_TIMEOUT_S FLEETHUB_COMMAND_SITE_WAIT_S FLEETHUB_ROS_BRIDGE
FLEETHUB_REPLAY_WINDOW FLEETHUB_BATCH_MAX_ROWS FLEETHUB_BATCH_MAX_DELAY_MS FLEETHUB_SIM_ROBOTS
FLEETHUB_SIM_FLEETS FLEETHUB_SIM_RATE_HZ FLEETHUB_SIM_AUTO_TASKS_S FLEETHUB_SIM_SEED
FLEETHUB_SIM_TASK_FAILURE_PROBABILITY FLEETHUB_SIM_ROBOT_SPEED_MPS FLEETHUB_SIM_CONTROL_PORT
FLEETHUB_SIM_ROS FLEETHUB_LOG_LEVEL FLEETHUB_DERIVE_STALE_S FLEETHUB_DERIVE_OFFLINE_S
FLEETHUB_DERIVE_FLEET_THRESHOLDS FLEETHUB_DERIVE_RESTART_GRACE_S FLEETHUB_DERIVE_STUCK_S
FLEETHUB_DERIVE_STUCK_DISTANCE_M FLEETHUB_DERIVE_BATTERY_LOW FLEETHUB_DERIVE_BATTERY_CRITICAL
FLEETHUB_DERIVE_BATTERY_HYSTERESIS FLEETHUB_DERIVE_TASK_STALE_S FLEETHUB_DERIVE_TASK_DELAY_TOLERANCE
FLEETHUB_DERIVE_ESCALATION_FAILURES FLEETHUB_DERIVE_ESCALATION_WINDOW_S FLEETHUB_DERIVE_REASSIGN
FLEETHUB_DERIVE_TICK_MS FLEETHUB_HISTORY_POSITION_INTERVAL_S FLEETHUB_HISTORY_POSITION_DISTANCE_M
FLEETHUB_RETENTION_POSITIONS_DAYS FLEETHUB_RETENTION_LOGS_DAYS FLEETHUB_RETENTION_EVENTS_DAYS
FLEETHUB_RETENTION_TASK_HISTORY_DAYS FLEETHUB_RETENTION_ALERTS_DAYS FLEETHUB_RETENTION_MAX_ROWS
FLEETHUB_RETENTION_INTERVAL_S FLEETHUB_RETENTION_BATCH_ROWS FLEETHUB_MQTT_URL FLEETHUB_MQTT_USERNAME
FLEETHUB_MQTT_PASSWORD FLEETHUB_MQTT_CA_FILE FLEETHUB_MQTT_CERT_FILE FLEETHUB_MQTT_KEY_FILE
FLEETHUB_MQTT_PROTOCOL FLEETHUB_MQTT_KEEPALIVE_S FLEETHUB_MQTT_CLIENT_ID FLEETHUB_MQTT_EMBEDDED_PORT
FLEETHUB_VDA5050 FLEETHUB_VDA5050_INTERFACE FLEETHUB_VDA5050_MAJOR FLEETHUB_VDA5050_VEHICLES
FLEETHUB_VDA5050_DEFAULT_FLEET FLEETHUB_VDA5050_MAX_VEHICLES FLEETHUB_VDA5050_NAV_GRAPH
FLEETHUB_VDA5050_NAV_GRAPH_NAME FLEETHUB_VDA5050_RELEASE_NODES FLEETHUB_VDA5050_HORIZON_NODES
FLEETHUB_VDA5050_NODE_DEVIATION_M FLEETHUB_VDA5050_STATE_TIMEOUT_S FLEETHUB_VDA5050_RESEND_S
FLEETHUB_VDA5050_MAX_MESSAGE_BYTES FLEETHUB_VDA5050_PORT FLEETHUB_VDA5050_SIM_VEHICLES
FLEETHUB_VDA5050_SIM_SPEED_MPS FLEETHUB_VDA5050_SIM_RATE_HZ FLEETHUB_VDA5050_SIM_ACTION_S
FLEETHUB_VDA5050_SIM_FAILURE_PROBABILITY
""".split()
"""Every environment variable fleethub read before its settings were split by component
(release 0.1.0); deployments set them, so each must keep working."""


def _help(command: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "fleethub", command, "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_documents_each_option_of_the_command_and_no_other(command: str) -> None:
    out = _help(command)
    own = set(command_options(command))
    listed = {flag[2:].replace("-", "_") for flag in re.findall(r"^\s+(--[a-z0-9-]+)", out, re.M)}
    assert listed & set(Settings.model_fields) == own
    for name in own:
        assert "FLEETHUB_" + name.upper() in out


def test_a_command_refuses_an_option_of_another_part(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["migrate", "--sim-robots", "3"])
    assert exit_.value.code == 2
    assert "--sim-robots" in capsys.readouterr().err


def _other_than_default(value: Any) -> str:
    if isinstance(value, bool):
        return "off" if value else "on"
    if isinstance(value, int | float):
        return str(value + 1)
    if isinstance(value, Path):
        return "/srv/fleethub"
    if isinstance(value, tuple):
        return "RS256,ES256"
    return "set-by-the-environment"


@pytest.mark.parametrize("variable", TODAYS_ENVIRONMENT)
def test_every_environment_variable_of_today_still_sets_its_setting(variable: str) -> None:
    name = variable.removeprefix("FLEETHUB_").lower()
    value = _other_than_default(getattr(Settings(), name))
    assert getattr(Settings.load(environ={variable: value}), name) != getattr(Settings(), name)


def test_a_separate_proxy_without_redis_explains_what_it_needs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["proxy"]) == 2
    assert "FLEETHUB_REDIS_URL" in capsys.readouterr().err


def test_a_bad_setting_exits_with_a_configuration_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["up", "--api-port", "http"]) == 2
    assert "FLEETHUB_API_PORT" in capsys.readouterr().err
