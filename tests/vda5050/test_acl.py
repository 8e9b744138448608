"""The Mosquitto ACL the README documents confines each vehicle to its own topics, on a real Mosquitto."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from tests.vda5050.conftest import Mosquitto

ROOT = Path(__file__).resolve().parents[2]
ACL = ROOT / "k8s" / "overlays" / "self-contained" / "mosquitto" / "acl"
USERS = {"fleethub-master-control": "mc-secret", "agv1": "agv1-secret", "agv2": "agv2-secret"}

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        shutil.which("mosquitto") is None or shutil.which("mosquitto_passwd") is None,
        reason="mosquitto and mosquitto_passwd are not installed (apt-get install mosquitto)",
    ),
]


def test_the_readme_shows_the_acl_the_manifests_ship() -> None:
    readme = (ROOT / "README.md").read_text()
    for line in ACL.read_text().splitlines()[1:]:
        assert line.strip() == "" or f"   {line}" in readme, line


@pytest.fixture
def passwords(tmp_path: Path) -> Path:
    path = tmp_path / "passwd"
    for user, password in USERS.items():
        create = [] if path.exists() else ["-c"]
        subprocess.run(
            ["mosquitto_passwd", *create, "-b", str(path), user, password],
            check=True,
            capture_output=True,
            timeout=10,
        )
    return path


@pytest.fixture
async def socket(tmp_path: Path, passwords: Path) -> AsyncIterator[str]:
    broker = Mosquitto(
        tmp_path, f"allow_anonymous false\npassword_file {passwords}\nacl_file {ACL}\n"
    )
    await broker.start()
    try:
        yield str(broker.socket)
    finally:
        await broker.stop()


def client(socket: str, user: str) -> aiomqtt.Client:
    return aiomqtt.Client(
        socket, username=user, password=USERS[user], identifier=user, transport="unix"
    )


async def _next(messages: aiomqtt.MessagesIterator) -> str:
    message = await asyncio.wait_for(anext(messages), 10)
    return message.topic.value


async def test_a_vehicle_reports_on_its_own_topics_only(socket: str) -> None:
    async with client(socket, "fleethub-master-control") as master, client(socket, "agv1") as agv1:
        await master.subscribe("uagv/v2/+/+/state", qos=1)
        await agv1.publish("uagv/v2/acme/agv2/state", b"posing as agv2", qos=1)
        await agv1.publish("uagv/v2/acme/agv1/state", b"its own", qos=1)
        assert await _next(master.messages) == "uagv/v2/acme/agv1/state"


async def test_a_vehicle_receives_only_its_own_orders(socket: str) -> None:
    async with client(socket, "fleethub-master-control") as master, client(socket, "agv1") as agv1:
        await agv1.subscribe([("uagv/v2/acme/agv2/order", 1), ("uagv/v2/acme/agv1/order", 1)])
        await master.publish("uagv/v2/acme/agv2/order", b"for agv2", qos=1)
        await master.publish("uagv/v2/acme/agv1/order", b"for agv1", qos=1)
        assert await _next(agv1.messages) == "uagv/v2/acme/agv1/order"


async def test_a_vehicle_cannot_send_orders(socket: str) -> None:
    async with client(socket, "agv2") as agv2, client(socket, "agv1") as agv1:
        await agv1.subscribe("uagv/v2/acme/agv1/order", qos=1)
        await agv2.publish("uagv/v2/acme/agv1/order", b"forged", qos=1)
        await agv2.publish("uagv/v2/acme/agv2/state", b"its own", qos=1)
        async with client(socket, "fleethub-master-control") as master:
            await master.publish("uagv/v2/acme/agv1/order", b"genuine", qos=1)
            message = await asyncio.wait_for(anext(agv1.messages), 10)
            assert message.payload == b"genuine"
