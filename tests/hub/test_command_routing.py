"""Commands go only to the sites that serve them: announced in a hello, or learned from what a site sends."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
import orjson
from aiohttp.test_utils import TestServer

from fleetcore.contract.commands import CommandKind, decline, declined, request_id_for
from fleetcore.contract.ingest import CommandResponse, IngestType, decode, encode, ingest_url
from fleetcore.contract.site_link import Serves, hello_frame
from fleetcore.site_client import SiteClient
from fleetcore.store import models
from hub.rmf_gateway import SiteGateway
from tests.helpers import TEST_SITE_TOKEN, IngestClient, fleet, running_site

DISPATCH = CommandKind.DISPATCH_TASK


class Site:
    """A site as the gateway sees one: what it was sent."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.frames: list[str] = []

    async def send_str(self, data: str) -> None:
        self.frames.append(data)

    def __repr__(self) -> str:
        return self.name


def gateway_with(**sites: Serves | None) -> tuple[SiteGateway, dict[str, Site]]:
    gateway = SiteGateway(site_wait_s=0)
    attached = {name: Site(name) for name in sites}
    for name, serves in sites.items():
        gateway.attach(attached[name], serves)
    return gateway, attached


def takes(*kinds: str, **serves: Any) -> Serves:
    return Serves(commands=kinds, **serves)


def test_a_command_for_a_fleet_goes_to_the_sites_that_announced_it() -> None:
    gateway, site = gateway_with(
        a=takes(DISPATCH, fleets=("fleet_a",)),
        b=takes(DISPATCH, fleets=("fleet_b",)),
        rmf_adapter=None,
    )
    assert gateway.route(DISPATCH, ("fleet", "fleet_b")) == [site["b"]]


def test_a_vda5050_robots_decommission_goes_to_its_master_control_not_to_rmfs_dispatcher() -> None:
    from ros_bridge.commands import SERVES as BRIDGE
    from vda5050.master import MASTER_CONTROL_KINDS

    gateway, site = gateway_with(
        bridge=BRIDGE, master=takes(*MASTER_CONTROL_KINDS, fleets=("agvs",))
    )
    for kind in (CommandKind.ROBOT_COMMISSION, CommandKind.ROBOT_PAUSE):
        assert gateway.route(kind, ("fleet", "agvs")) == [site["master"]]
    assert gateway.route(CommandKind.ROBOT_COMMISSION, ("fleet", "rmf")) == [site["bridge"]]


def test_what_a_site_reports_it_serves() -> None:
    gateway, site = gateway_with(
        a=takes(DISPATCH, CommandKind.CANCEL_TASK, CommandKind.DOOR_REQUEST),
        b=takes(DISPATCH, CommandKind.CANCEL_TASK, CommandKind.DOOR_REQUEST),
    )
    gateway.learn(site["a"], decode(encode(IngestType.FLEET_STATE, fleet("fleet_a", {}))))
    door = {"door_time": {"sec": 0, "nanosec": 0}, "door_name": "d1", "current_mode": {"value": 0}}
    gateway.learn(site["b"], decode(encode(IngestType.DOOR_STATE, door)))
    task = {"booking": {"id": "t1"}, "assigned_to": {"group": "fleet_c", "name": "r1"}}
    gateway.learn(site["b"], decode(encode(IngestType.TASK_STATE, task)))
    assert gateway.route(DISPATCH, ("fleet", "fleet_a")) == [site["a"]]
    assert gateway.route(CommandKind.DOOR_REQUEST, ("door", "d1")) == [site["b"]]
    assert gateway.route(CommandKind.CANCEL_TASK, ("task", "t1")) == [site["b"]]
    assert gateway.route(DISPATCH, ("fleet", "fleet_c")) == [site["b"]]


def test_a_command_nobody_serves_goes_to_the_dispatchers_or_else_to_every_site_of_its_kind() -> (
    None
):
    gateway, site = gateway_with(
        vda=takes(DISPATCH, fleets=("agv",)),
        bridge=takes(DISPATCH, dispatcher=True),
        lifts=takes(CommandKind.LIFT_REQUEST),
        more_lifts=takes(CommandKind.LIFT_REQUEST),
    )
    assert gateway.route(DISPATCH, None) == [site["bridge"]]
    assert gateway.route(DISPATCH, ("fleet", "tinyRobot")) == [site["bridge"]]
    assert gateway.route(CommandKind.LIFT_REQUEST, ("lift", "L9")) == [
        site["lifts"],
        site["more_lifts"],
    ]


def test_a_kind_no_site_takes_goes_to_the_sites_without_hello_as_before_routing() -> None:
    gateway, site = gateway_with(
        sim=takes(DISPATCH, fleets=("fleet_a",)), old_bridge=None, rmf_adapter=None
    )
    assert gateway.route(CommandKind.LIFT_REQUEST, ("lift", "L1")) == [
        site["old_bridge"],
        site["rmf_adapter"],
    ]


async def test_alert_responses_go_to_the_sites_that_relay_them() -> None:
    gateway, site = gateway_with(
        bridge=takes(alert_responses=True), sim=takes(DISPATCH), rmf_adapter=None
    )
    assert await gateway.notify_alert_response("frame") == 1
    assert (site["bridge"].frames, site["sim"].frames, site["rmf_adapter"].frames) == (
        ["frame"],
        [],
        [],
    )
    gateway.detach(site["bridge"])
    assert await gateway.notify_alert_response("again") == 1
    assert site["rmf_adapter"].frames == ["again"]


@dataclass
class Record:
    """What :meth:`SiteGateway.send` reads of a recorded command."""

    request_id: str
    kind: str
    body: str


def unnamed_dispatch(request_id: str) -> models.CommandRecord:
    body = {"type": "dispatch_task_request", "request": {"category": "patrol", "description": {}}}
    return cast(models.CommandRecord, Record(request_id, DISPATCH, orjson.dumps(body).decode()))


def answered(gateway: SiteGateway) -> list[CommandResponse]:
    responses: list[CommandResponse] = []

    async def record(response: CommandResponse, recorded: asyncio.Future[None] | None) -> None:
        responses.append(response)

    gateway.on_response(record)
    return responses


async def test_a_dispatch_naming_no_fleet_goes_to_the_bidder_and_on_its_decline_to_the_dispatcher() -> (
    None
):
    gateway, site = gateway_with(
        vda=takes(DISPATCH, fleets=("agv",), bids=True), bridge=takes(DISPATCH, dispatcher=True)
    )
    responses = answered(gateway)
    await gateway.send(unnamed_dispatch("r1"))
    assert (len(site["vda"].frames), site["bridge"].frames) == (1, [])
    await gateway.received(CommandResponse.model_validate({"request_id": "r1", **decline("no")}))
    assert (len(site["bridge"].frames), responses) == (1, [])
    await gateway.received(CommandResponse(request_id="r1", success=True))
    assert [r.success for r in responses] == [True]


async def test_a_dispatch_the_bidder_takes_never_reaches_the_dispatcher() -> None:
    gateway, site = gateway_with(
        vda=takes(DISPATCH, fleets=("agv",), bids=True), bridge=takes(DISPATCH, dispatcher=True)
    )
    responses = answered(gateway)
    await gateway.send(unnamed_dispatch("r1"))
    await gateway.received(CommandResponse(request_id="r1", success=True))
    assert (site["bridge"].frames, [r.success for r in responses]) == ([], [True])


async def test_the_last_bidders_decline_is_the_answer_when_no_other_site_takes_dispatches() -> None:
    gateway, _ = gateway_with(vda=takes(DISPATCH, fleets=("agv",), bids=True))
    responses = answered(gateway)
    await gateway.send(unnamed_dispatch("r1"))
    await gateway.received(CommandResponse.model_validate({"request_id": "r1", **decline("no")}))
    assert [declined(r.model_dump()) for r in responses] == [True]


@contextlib.asynccontextmanager
async def answering_site(
    server: TestServer, serves: Serves, received: list[str]
) -> AsyncIterator[SiteClient]:
    """A site over /_internal that answers each command with success, recording its request_id."""

    def answer(doc: dict[str, Any]) -> None:
        request_id = doc["data"]["request_id"]
        received.append(request_id)
        response = {"request_id": request_id, "success": True}
        client.send(orjson.dumps({"type": "command_response", "data": response}), durable=True)

    client = SiteClient(
        ingest_url(str(server.make_url("")).rstrip("/"), TEST_SITE_TOKEN),
        on_connect=list,
        on_message=answer,
        serves=serves,
        backoff_initial_s=0.05,
    )
    async with running_site(client):
        yield client


async def _dispatch(http: aiohttp.ClientSession, key: str, fleet_name: str) -> None:
    body = {
        "type": "dispatch_task_request",
        "request": {"category": "patrol", "description": {}, "fleet_name": fleet_name},
    }
    async with http.post(
        "/tasks/dispatch_task", json=body, headers={"Idempotency-Key": key}
    ) as response:
        assert response.status == 200, await response.text()


async def test_each_site_gets_only_the_commands_it_serves(embedded: TestServer) -> None:
    to_a: list[str] = []
    to_b: list[str] = []
    base = str(embedded.make_url("")).rstrip("/")
    async with (
        answering_site(embedded, takes(DISPATCH, fleets=("fleet_a",)), to_a),
        answering_site(embedded, takes(DISPATCH, fleets=("fleet_b",)), to_b),
        IngestClient(base) as rmf_adapter,
        aiohttp.ClientSession(base) as http,
    ):
        await _dispatch(http, "for-b", "fleet_b")
        await _dispatch(http, "for-a", "fleet_a")
        door = asyncio.create_task(
            http.post("/doors/d1/request", json={"mode": 2}, headers={"Idempotency-Key": "door"})
        )
        # Frames reach a site in the order they were sent: had the dispatches gone
        # to the adapter too, they would have come before the door request.
        command = await rmf_adapter.next_reply()
        assert (command["type"], command["data"]["kind"]) == ("command", "door_request")
        await rmf_adapter.send(
            "command_response", {"request_id": command["data"]["request_id"], "success": True}
        )
        (await door).close()
    assert to_a == [request_id_for("for-a")]
    assert to_b == [request_id_for("for-b")]


async def test_a_command_waits_for_a_site_that_serves_it_to_connect(embedded: TestServer) -> None:
    received: list[str] = []
    unrelated: list[str] = []
    base = str(embedded.make_url("")).rstrip("/")
    url = ingest_url(base, TEST_SITE_TOKEN) + "&hello=1"
    async with (
        aiohttp.ClientSession(base) as http,
        http.ws_connect(url) as before_its_hello,
        answering_site(embedded, takes(CommandKind.DOOR_REQUEST), unrelated),
    ):
        dispatching = asyncio.create_task(_dispatch(http, "waits", "fleet_w"))
        async with answering_site(embedded, takes(DISPATCH, fleets=("fleet_w",)), received):
            await asyncio.wait_for(dispatching, 10)
        # Its first frame is the welcome: no command reached it before it said what it serves.
        await before_its_hello.send_str(hello_frame("late", Serves()).decode())
        assert (await before_its_hello.receive_json(timeout=5))["type"] == "welcome"
    assert (received, unrelated) == ([request_id_for("waits")], [])
