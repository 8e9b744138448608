"""What a principal may see and do, the command rules, and the token settings' safety rails."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fleetcore.auth import Authenticator, Permission, Principal, Scope
from fleetcore.auth.tokens import SECRET_FILE, TokenVerifier, with_generated_jwt_secret
from fleetcore.contract.commands import CommandKind
from fleetcore.errors import ConfigError, Unauthorized
from fleetcore.settings import Settings
from rest_api.command_access import RULES
from rest_api.visibility import fleet_state_view

ALPHA = Scope(fleets=frozenset({"alpha_fleet"}), robots=frozenset({("shared", "a1")}))


def _user(grants: dict[Permission, Scope], name: str = "u") -> Principal:
    return Principal(name, False, grants, None)


def test_a_robot_is_granted_by_its_fleet_or_by_itself() -> None:
    user = _user({Permission.robot_read: ALPHA})
    assert user.can_robot(Permission.robot_read, "alpha_fleet", "any")
    assert user.can_robot(Permission.robot_read, "shared", "a1")
    assert not user.can_robot(Permission.robot_read, "shared", "b1")
    assert not user.can_robot(Permission.task_submit, "alpha_fleet", "any")


def test_an_admin_may_do_everything_without_grants() -> None:
    admin = Principal("root", True, {}, None)
    assert admin.can_robot(Permission.task_cancel, "any", "robot")
    assert admin.can_door(Permission.door_control, "any")


def test_view_keys_are_equal_exactly_when_the_visible_objects_are() -> None:
    a1 = _user({Permission.robot_read: ALPHA}, "ann")
    a2 = _user({Permission.robot_read: ALPHA, Permission.task_read: Scope()}, "amy")
    b = _user({Permission.robot_read: Scope(fleets=frozenset({"bravo_fleet"}))}, "bob")
    admin = Principal("root", True, {}, None)
    assert a1.view_key(Permission.robot_read) == a2.view_key(Permission.robot_read)
    assert (
        len(
            {
                a1.view_key(Permission.robot_read),
                b.view_key(Permission.robot_read),
                admin.view_key(Permission.robot_read),
            }
        )
        == 3
    )


def test_a_fleet_state_is_cut_to_the_readable_robots() -> None:
    state = b'{"name":"shared","robots":{"a1":{"name":"a1"},"b1":{"name":"b1"}}}'
    user = _user({Permission.robot_read: ALPHA})
    assert fleet_state_view(user, state) == b'{"name":"shared","robots":{"a1":{"name":"a1"}}}'
    assert fleet_state_view(_user({}), state) is None
    assert fleet_state_view(Principal("root", True, {}, None), state) is state


def test_every_command_kind_has_an_authorization_rule() -> None:
    assert {kind.value for kind in CommandKind} <= set(RULES)


def test_alg_none_cannot_be_configured(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        TokenVerifier(Settings(data_dir=tmp_path, jwt_algorithms=("none",)))


def test_a_short_hs256_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="32 bytes"):
        TokenVerifier(Settings(data_dir=tmp_path, jwt_secret="short"))


def test_rs256_without_a_key_or_jwks_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="jwt_public_key or jwks_url"):
        TokenVerifier(Settings(data_dir=tmp_path, jwt_algorithms=("RS256",)))


def test_without_a_secret_a_verifier_refuses_naming_the_setting(tmp_path: Path) -> None:
    """Replicas that each made up a secret would refuse each other's tokens: none is made up."""
    with pytest.raises(ConfigError, match="FLEETHUB_JWT_SECRET, which is not set"):
        TokenVerifier(Settings(data_dir=tmp_path))
    assert not (tmp_path / SECRET_FILE).exists()


def test_the_embedded_secret_is_generated_once_owner_only_and_kept(tmp_path: Path) -> None:
    first = with_generated_jwt_secret(Settings(data_dir=tmp_path))
    mode = (tmp_path / SECRET_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert with_generated_jwt_secret(Settings(data_dir=tmp_path)).jwt_secret == first.jwt_secret
    assert TokenVerifier(first).secret == first.jwt_secret


def test_a_configured_secret_or_auth_off_generates_nothing(tmp_path: Path) -> None:
    configured = Settings(data_dir=tmp_path, jwt_secret="x" * 32)
    assert with_generated_jwt_secret(configured) == configured
    off = Settings(data_dir=tmp_path, auth_mode="off")
    oidc = Settings(data_dir=tmp_path, jwt_algorithms=("RS256",))
    assert with_generated_jwt_secret(off) == off and with_generated_jwt_secret(oidc) == oidc
    assert not (tmp_path / SECRET_FILE).exists()


async def test_an_issued_token_verifies_and_names_its_user_and_expiry(tmp_path: Path) -> None:
    verifier = TokenVerifier(with_generated_jwt_secret(Settings(data_dir=tmp_path)))
    token, ttl = verifier.issue("alice", 60)
    claims = await verifier.verify(token)
    assert (claims.username, claims.external) == ("alice", False)
    assert claims.expires_at is not None and ttl == 60


async def test_a_token_of_another_deployment_is_a_bad_signature(tmp_path: Path) -> None:
    ours = TokenVerifier(with_generated_jwt_secret(Settings(data_dir=tmp_path / "ours")))
    theirs = TokenVerifier(with_generated_jwt_secret(Settings(data_dir=tmp_path / "theirs")))
    with pytest.raises(Unauthorized) as refused:
        await ours.verify(theirs.issue("alice", 60)[0])
    assert refused.value.reason == "bad_signature"


async def test_with_auth_off_everyone_is_an_admin_and_it_is_said_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    authenticator = await Authenticator.from_settings(Settings(data_dir=tmp_path, auth_mode="off"))
    principal = await authenticator.principal(None)
    assert principal.is_admin
    assert "AUTHENTICATION IS OFF" in caplog.text


def test_an_unknown_auth_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="auth_mode"):
        Authenticator(Settings(data_dir=tmp_path, auth_mode="maybe"))
