"""Every VDA 5050 message fleethub publishes validates against the official JSON schemas.

The schemas are VDA's (``shared/reference/vda5050/2.1.0/json_schemas``),
read where a ``shared`` folder sits beside the checkout (or beside the
folder of worktrees it is in); without it the test skips and says so, since
fleethub never reads them at run time and a fresh clone has no copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from fleetcore.contract.vda5050 import Topic, encode
from simulator.vehicles.factsheet import factsheet
from tests.vda5050.loopback import Loopback, delivery, patrol

ROOT = Path(__file__).resolve().parents[2]
CANDIDATES = [
    base / "shared" / "reference" / "vda5050" / "2.1.0" / "json_schemas"
    for base in (ROOT.parent, ROOT.parent.parent)
]
SCHEMAS = next((path for path in CANDIDATES if path.is_dir()), None)

pytestmark = pytest.mark.skipif(
    SCHEMAS is None,
    reason="VDA's JSON schemas are not beside this checkout (looked in "
    + ", ".join(str(p) for p in CANDIDATES)
    + "); fleethub's own models are tested without them",
)


def _validator(topic: str) -> Draft202012Validator:
    assert SCHEMAS is not None
    schema = json.loads((SCHEMAS / f"{topic}.schema").read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _problems(topic: str, payloads: list[bytes]) -> list[str]:
    validator = _validator(topic)
    return [
        f"{topic}: {error.json_path}: {error.message}"
        for payload in payloads
        for error in validator.iter_errors(orjson.loads(payload))
    ]


@pytest.fixture
def traffic(tmp_path: Path) -> Loopback:
    """A delivery, a patrol canceled halfway and a refused order: every kind of message, sent."""
    loop = Loopback(tmp_path / "journal.sqlite3")
    done = loop.dispatch(delivery())
    canceled = loop.dispatch(patrol("room_102", "lobby"))
    loop.run(3.0)
    loop.master.cancel(loop.master.tasks[canceled], "canceled", [])
    loop.until(lambda: loop.master.tasks[done].terminal)
    return loop


def test_orders_and_instant_actions_of_the_master_control_validate(traffic: Loopback) -> None:
    orders = [m.payload for m in traffic.sent if m.topic.endswith("/order")]
    actions = [m.payload for m in traffic.sent if m.topic.endswith("/instantActions")]
    assert orders and actions
    assert _problems("order", orders) + _problems("instantActions", actions) == []


def test_states_connections_and_factsheets_of_the_simulated_vehicles_validate(
    traffic: Loopback,
) -> None:
    by_topic: dict[Topic, list[bytes]] = {}
    for topic, payload in traffic.published:
        by_topic.setdefault(topic, []).append(payload)
    sheets = [encode(factsheet(vehicle, 0)) for vehicle in traffic.vehicles.values()]
    problems = (
        _problems("state", by_topic[Topic.STATE])
        + _problems("connection", by_topic[Topic.CONNECTION])
        + _problems("factsheet", sheets)
    )
    assert problems == []
    assert any(orjson.loads(p)["actionStates"] for p in by_topic[Topic.STATE])


def test_the_official_examples_pass_fleethub_s_own_models() -> None:
    """The reverse direction: what the schemas allow, fleethub's models take (a minimal state)."""
    from fleetcore.contract.vda5050 import VehicleId, decode

    state: dict[str, Any] = {
        "headerId": 1,
        "timestamp": "1991-03-11T11:40:03.12Z",
        "version": "2.0.0",
        "manufacturer": "m",
        "serialNumber": "s",
        "orderId": "",
        "orderUpdateId": 0,
        "lastNodeId": "",
        "lastNodeSequenceId": 0,
        "nodeStates": [],
        "edgeStates": [],
        "driving": False,
        "actionStates": [],
        "batteryState": {"batteryCharge": 80, "charging": False},
        "operatingMode": "AUTOMATIC",
        "errors": [],
        "safetyState": {"eStop": "NONE", "fieldViolation": False},
    }
    payload = orjson.dumps(state)
    assert _problems("state", [payload]) == []
    decode(Topic.STATE, VehicleId("m", "s"), payload, 1 << 20)
