"""The broker settings: URL, credentials and TLS read once, the password never shown."""

from __future__ import annotations

import pytest

from fleetcore.errors import ConfigError
from fleetcore.mqtt import MqttConfig


def test_a_plain_url_with_credentials() -> None:
    config = MqttConfig.from_url("mqtt://master%40site:p%2Fss@broker.local")
    assert (config.host, config.port, config.tls) == ("broker.local", 1883, False)
    assert (config.username, config.password) == ("master@site", "p/ss")
    assert config.tls_context() is None
    assert "p/ss" not in repr(config) and "p/ss" not in config.display


def test_mqtts_is_tls_on_8883_and_settings_override_the_url() -> None:
    config = MqttConfig.from_url(
        "mqtts://user:old@broker.local", username="fleethub", password="new", protocol="5"
    )
    assert (config.port, config.tls, config.protocol) == (8883, True, "5")
    assert (config.username, config.password) == ("fleethub", "new")
    assert config.tls_context() is not None
    assert config.display == "mqtts://broker.local:8883"


@pytest.mark.parametrize(
    ("url", "changes", "message"),
    [
        ("http://broker", {}, "mqtt://host"),
        ("mqtt://", {}, "mqtt://host"),
        ("mqtt://broker:notaport", {}, "port"),
        ("mqtt://broker", {"protocol": "4"}, "3.1.1 or 5"),
        ("mqtt://broker", {"cert_file": "client.pem"}, "cert and key"),
    ],
    ids=["scheme", "no-host", "port", "protocol", "half-a-certificate"],
)
def test_a_setting_that_cannot_work_is_refused_at_start(
    url: str, changes: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        MqttConfig.from_url(url, **changes)  # type: ignore[arg-type]
