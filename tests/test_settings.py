"""Settings: embedded defaults, environment and file precedence, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleetcore.errors import ConfigError
from fleetcore.settings import Settings


def test_defaults_are_the_embedded_system() -> None:
    s = Settings.load(environ={})
    assert s.redis_url == ""
    assert s.resolved_database_url == "sqlite://data/fleethub.sqlite3"
    assert s.host == "127.0.0.1"


def test_environment_overrides_the_file_and_flags_override_both(tmp_path: Path) -> None:
    config = tmp_path / "fleethub.toml"
    config.write_text('api_port = 7000\nhost = "127.0.0.2"\nsim_robots = 3\n')
    s = Settings.load(
        environ={"FLEETHUB_CONFIG": str(config), "FLEETHUB_API_PORT": "7100"},
        overrides={"sim_robots": "5"},
    )
    assert (s.api_port, s.host, s.sim_robots) == (7100, "127.0.0.2", 5)


def test_a_malformed_number_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="FLEETHUB_API_PORT"):
        Settings.load(environ={"FLEETHUB_API_PORT": "eighty"})


def test_unknown_keys_in_the_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "fleethub.toml"
    config.write_text("api_prot = 7000\n")
    with pytest.raises(ConfigError, match="api_prot"):
        Settings.load(environ={}, config_file=config)


def test_a_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Settings.load(environ={}, config_file=tmp_path / "nope.toml")
