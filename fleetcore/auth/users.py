"""The user store: users, roles, security groups and grants, over the tortoise models.

The ``fleethub user`` commands and the admin REST API both change the
store through these functions, so a rule (a permission must be known, a
group must exist before a role is granted on it) holds whichever way a
change comes in. Passwords are hashed with argon2id (argon2-cffi); hashing
runs in a thread, since it is deliberately slow.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from fleetcore.auth.permissions import Permission, Principal, Scope
from fleetcore.contract.limits import NAME_BYTES, column_problem
from fleetcore.errors import FleethubError
from fleetcore.store import models as db

MemberKind = Literal["fleet", "robot", "door", "lift"]
MEMBER_KINDS: tuple[MemberKind, ...] = ("fleet", "robot", "door", "lift")
FIRST_ADMIN = "admin"

_hasher = PasswordHasher()


class UserStoreError(FleethubError):
    """A change the user store refuses; ``status`` is the HTTP status it maps to."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True, slots=True)
class StoredGrants:
    """A user's standing in the store: admin or not, and the union of their grants."""

    is_admin: bool
    grants: dict[Permission, Scope]
    password_stamp: str | None = None
    """The :func:`password_stamp` of the user's password now (None: they have none)."""


def generate_password() -> str:
    return secrets.token_urlsafe(18)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


def password_stamp(password_hash: str | None) -> str | None:
    """A short digest of the user's password hash, which a token issued for the password carries.

    Setting a password stores a new hash (argon2 salts each one), so every
    token issued before no longer matches and is refused: a changed password
    revokes the sessions of whoever knew the old one. The digest tells nothing
    of the password (it is of a salted hash the token's reader never sees).
    """
    if password_hash is None:
        return None
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


async def check_password(username: str, password: str) -> str | None:
    """The :func:`password_stamp` if the user exists, has a password and it matches, else None;
    as slow either way."""
    user = await db.User.get_or_none(username=username) if _stored(username) else None
    stored = user.password_hash if user is not None else None
    if stored is None:
        # Hash anyway, so a missing user answers as slowly as a wrong password.
        await hash_password(password)
        return None
    try:
        matches = await asyncio.to_thread(_hasher.verify, stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return password_stamp(stored) if matches else None


async def verify_password(username: str, password: str) -> bool:
    """Whether the user exists, has a password and it matches; as slow either way."""
    return await check_password(username, password) is not None


def _strings(values: list[Any]) -> list[str]:
    """A flat ``values_list`` as strings (tortoise types it as tuples)."""
    return [str(value) for value in values]


def _not_found(kind: str, name: str) -> UserStoreError:
    return UserStoreError(404, f"no {kind} {name!r}")


def _checked(kind: str, name: str) -> str:
    """``name`` if its column can hold it, else a 422: a name is 1 to ``NAME_BYTES`` bytes of
    UTF-8 (a NUL or a lone surrogate would fail the database, not just the lookup)."""
    problem = "is empty" if not name else column_problem(name, NAME_BYTES)
    if problem is not None:
        raise UserStoreError(422, f"a {kind} name {problem}")
    return name


def _stored(name: str) -> bool:
    """Whether a row could be named ``name`` at all; a lookup of any other is a plain 404."""
    return column_problem(name, NAME_BYTES) is None


async def _user(username: str) -> db.User:
    user = await db.User.get_or_none(username=username) if _stored(username) else None
    if user is None:
        raise _not_found("user", username)
    return user


async def _role(name: str) -> db.Role:
    role = await db.Role.get_or_none(name=name) if _stored(name) else None
    if role is None:
        raise _not_found("role", name)
    return role


async def _group(name: str) -> db.SecurityGroup:
    group = await db.SecurityGroup.get_or_none(name=name) if _stored(name) else None
    if group is None:
        raise _not_found("security group", name)
    return group


async def create_user(
    username: str, *, password: str | None = None, is_admin: bool = False
) -> db.User:
    if not _checked("user", username).isprintable():
        raise UserStoreError(422, "a username is printable characters")
    password_hash = await hash_password(password) if password is not None else None
    try:
        return await db.User.create(
            username=username,
            password_hash=password_hash,
            is_admin=is_admin,
            created_ms=time.time_ns() // 1_000_000,
        )
    except IntegrityError:
        raise UserStoreError(409, f"user {username!r} exists") from None


async def ensure_user(username: str) -> db.User:
    """The user, added without password or roles when first seen (an OIDC login)."""
    user, _ = await db.User.get_or_create(
        username=username, defaults={"created_ms": time.time_ns() // 1_000_000}
    )
    return user


async def delete_user(username: str) -> None:
    user = await _user(username)
    await _keep_an_admin(user, "deleted")
    await user.delete()


async def _keep_an_admin(user: db.User, change: str) -> None:
    """Refuse (409) to take the admin flag from the last user who has it: no one could give
    it back but the command line on the server."""
    if (
        user.is_admin
        and not await db.User.filter(is_admin=True).exclude(username=user.username).exists()
    ):
        raise UserStoreError(
            409, f"{user.username!r} is the last administrator and cannot be {change}"
        )


async def set_password(username: str, password: str) -> None:
    user = await _user(username)
    user.password_hash = await hash_password(password)
    await user.save(update_fields=["password_hash"])


async def set_admin(username: str, is_admin: bool) -> None:
    user = await _user(username)
    if not is_admin:
        await _keep_an_admin(user, "demoted")
    user.is_admin = is_admin
    await user.save(update_fields=["is_admin"])


async def list_users(
    *, prefix: str | None = None, is_admin: bool | None = None, limit: int, offset: int
) -> list[str]:
    users = db.User.all()
    if prefix is not None:
        if column_problem(prefix, NAME_BYTES) is not None:
            return []
        users = users.filter(username__istartswith=prefix)
    if is_admin is not None:
        users = users.filter(is_admin=is_admin)
    return _strings(
        await users.order_by("username")
        .offset(offset)
        .limit(limit)
        .values_list("username", flat=True)
    )


async def user_roles(username: str) -> list[str]:
    await _user(username)
    return _strings(
        await db.UserRole.filter(user_id=username)
        .order_by("role_id")
        .values_list("role_id", flat=True)
    )


async def user_info(username: str) -> tuple[bool, list[str]]:
    """(is_admin, role names) of an existing user."""
    user = await _user(username)
    return user.is_admin, await user_roles(username)


async def add_user_role(username: str, role: str) -> None:
    await _user(username)
    await _role(role)
    await db.UserRole.get_or_create(user_id=username, role_id=role)


async def remove_user_role(username: str, role: str) -> None:
    await _user(username)
    await _role(role)
    await db.UserRole.filter(user_id=username, role_id=role).delete()


async def set_user_roles(username: str, roles: Iterable[str]) -> None:
    await _user(username)
    wanted = sorted(set(roles))
    stored = all(_stored(role) for role in wanted)
    found = await db.Role.filter(name__in=wanted).count() if stored else -1
    if found != len(wanted):
        raise UserStoreError(422, "one or more roles does not exist")
    async with in_transaction():
        await db.UserRole.filter(user_id=username).delete()
        for role in wanted:
            await db.UserRole.create(user_id=username, role_id=role)


async def create_role(name: str) -> None:
    _checked("role", name)
    try:
        await db.Role.create(name=name)
    except IntegrityError:
        raise UserStoreError(409, f"role {name!r} exists") from None


async def delete_role(name: str) -> None:
    await (await _role(name)).delete()


async def list_roles() -> list[str]:
    return _strings(await db.Role.all().order_by("name").values_list("name", flat=True))


def _permission(action: str) -> Permission:
    try:
        return Permission(action)
    except ValueError:
        raise UserStoreError(
            422, f"unknown permission {action!r}; one of {[p.value for p in Permission]}"
        ) from None


async def role_permissions(role: str) -> list[tuple[str, str]]:
    """(permission, security group) pairs of a role."""
    await _role(role)
    pairs: list[tuple[str, str]] = (
        await db.RolePermission.filter(role_id=role)
        .order_by("permission", "group_id")
        .values_list("permission", "group_id")
    )
    return pairs


async def grant(role: str, action: str, group: str) -> None:
    """Grant ``action`` on ``group``; a group not defined yet is created empty, as rmf-web takes
    any authz group name: the grant covers nothing until the group names fleets, robots, doors or
    lifts."""
    permission = _permission(action)
    await _role(role)
    if not await db.SecurityGroup.exists(name=group):
        await create_group(group)
    await db.RolePermission.get_or_create(role_id=role, permission=permission.value, group_id=group)


async def revoke(role: str, action: str, group: str) -> None:
    await _role(role)
    if not (_stored(action) and _stored(group)):
        return  # nothing can have been granted under such a name
    await db.RolePermission.filter(role_id=role, permission=action, group_id=group).delete()


async def create_group(name: str) -> None:
    _checked("security group", name)
    try:
        await db.SecurityGroup.create(name=name)
    except IntegrityError:
        raise UserStoreError(409, f"security group {name!r} exists") from None


async def delete_group(name: str) -> None:
    await (await _group(name)).delete()


async def list_groups() -> list[str]:
    return _strings(await db.SecurityGroup.all().order_by("name").values_list("name", flat=True))


def _member(kind: str, name: str) -> tuple[str, str, str]:
    """(kind, fleet, name) of a member; a robot is named ``fleet/robot``."""
    if kind not in MEMBER_KINDS:
        raise UserStoreError(422, f"unknown member kind {kind!r}; one of {list(MEMBER_KINDS)}")
    if kind == "robot":
        fleet, slash, robot = name.partition("/")
        if not slash or not fleet or not robot:
            raise UserStoreError(422, f"a robot is named fleet/robot, not {name!r}")
        return "robot", _checked("fleet", fleet), _checked("robot", robot)
    return kind, "", _checked(kind, name)


async def add_member(group: str, kind: str, name: str) -> None:
    member_kind, fleet, member = _member(kind, name)
    await _group(group)
    await db.SecurityGroupMember.get_or_create(
        group_id=group, kind=member_kind, fleet=fleet, name=member
    )


async def remove_member(group: str, kind: str, name: str) -> None:
    member_kind, fleet, member = _member(kind, name)
    await _group(group)
    await db.SecurityGroupMember.filter(
        group_id=group, kind=member_kind, fleet=fleet, name=member
    ).delete()


async def group_scope(group: str) -> Scope:
    await _group(group)
    return (await _scopes([group]))[group]


async def _scopes(groups: Iterable[str]) -> dict[str, Scope]:
    names = list(groups)
    members: dict[str, dict[str, set[object]]] = {
        g: {kind: set() for kind in MEMBER_KINDS} for g in names
    }
    rows: list[tuple[str, str, str, str]] = await db.SecurityGroupMember.filter(
        group_id__in=names
    ).values_list("group_id", "kind", "fleet", "name")
    for group, kind, fleet, name in rows:
        if kind in members[group]:
            members[group][kind].add((fleet, name) if kind == "robot" else name)
    return {
        g: Scope(
            fleets=frozenset(m["fleet"]),  # type: ignore[arg-type]
            robots=frozenset(m["robot"]),  # type: ignore[arg-type]
            doors=frozenset(m["door"]),  # type: ignore[arg-type]
            lifts=frozenset(m["lift"]),  # type: ignore[arg-type]
        )
        for g, m in members.items()
    }


async def load_grants(username: str) -> StoredGrants | None:
    """The user's admin flag and grants (None: no such user), in three queries."""
    user = await db.User.get_or_none(username=username)
    if user is None:
        return None
    pairs: list[tuple[str, str]] = (
        await db.RolePermission.filter(role__user_roles__user_id=username)
        .distinct()
        .values_list("permission", "group_id")
    )
    scopes = await _scopes({group for _, group in pairs})
    by_permission: dict[Permission, list[Scope]] = {}
    for action, group in pairs:
        if action in Permission.__members__:
            by_permission.setdefault(Permission(action), []).append(scopes[group])
    grants = {p: Scope.union(s) for p, s in by_permission.items()}
    return StoredGrants(
        user.is_admin or Permission.admin in grants, grants, password_stamp(user.password_hash)
    )


async def load_principal(username: str) -> Principal | None:
    """The user as the store has them now, with no token (None: no such user).

    For what acts on a user's behalf later, without a request: the hub
    firing their scheduled task asks what they may do today.
    """
    stored = await load_grants(username)
    if stored is None:
        return None
    return Principal(username, stored.is_admin, stored.grants, expires_at=None)


async def ensure_first_admin() -> str | None:
    """On an empty user table, add ``admin`` with a generated password and return it.

    Returns None when any user exists, so the password is shown exactly once.
    """
    if await db.User.exists():
        return None
    password = generate_password()
    try:
        await create_user(FIRST_ADMIN, password=password, is_admin=True)
    except UserStoreError:
        # Another process created the first user at the same moment.
        return None
    return password
