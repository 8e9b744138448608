"""``fleethub user ...``: the user store from the command line.

Users log in with POST /auth/token; what they see and may do comes from
their roles, each a set of (permission, security group) pairs, and a
security group names fleets, single robots (``fleet/robot``), doors and
lifts. A typical setup::

    fleethub user group-add site-a
    fleethub user group-member site-a fleet tinyRobot
    fleethub user group-member site-a door main_door
    fleethub user role-add operators-a
    fleethub user grant operators-a robot_read site-a
    fleethub user grant operators-a task_submit site-a
    fleethub user add alice            # prints a generated password once
    fleethub user assign alice operators-a

Passwords are generated and printed once, or read from stdin with
``--password-stdin``; never taken as an argument (it would land in the
shell history and the process list).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Awaitable, Callable

from fleetcore.auth import Permission, users
from fleetcore.settings import Settings
from fleetcore.store.db import close_database, open_database

Action = Callable[[argparse.Namespace], Awaitable[None]]


def add_actions(parser: argparse.ArgumentParser) -> None:
    """The actions of ``fleethub user``, each with its own arguments."""
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, summary: str, *args: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=summary, description=summary)
        for arg in args:
            sub.add_argument(arg)
        return sub

    action("list", "List users (an asterisk marks administrators) with their roles.")
    add = action("add", "Add a user; prints a generated password unless --password-stdin.", "name")
    add.add_argument("--admin", action="store_true", help="make the user an administrator")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    passwd = action(
        "passwd", "Set a user's password (generated and printed, or from stdin).", "name"
    )
    passwd.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    action("delete", "Delete a user.", "name")
    admin = action("admin", "Make a user an administrator (or not, with --revoke).", "name")
    admin.add_argument("--revoke", action="store_true", help="take administration away")
    action("assign", "Give a user a role.", "name", "role")
    action("unassign", "Take a role from a user.", "name", "role")
    action("roles", "List roles with the permissions they grant.")
    action("role-add", "Add a role.", "role")
    action("role-delete", "Delete a role.", "role")
    grant = action("grant", "Grant a role a permission on a security group.", "role")
    grant.add_argument("permission", choices=[p.value for p in Permission])
    grant.add_argument("group")
    action("revoke", "Take a permission on a group from a role.", "role", "permission", "group")
    action("groups", "List security groups with what they name.")
    action("group-add", "Add a security group.", "group")
    action("group-delete", "Delete a security group.", "group")
    for name, summary in (
        ("group-member", "Add a fleet, robot (fleet/robot), door or lift to a group."),
        ("group-unmember", "Remove a member from a group."),
    ):
        member = action(name, summary, "group")
        member.add_argument("kind", choices=users.MEMBER_KINDS)
        member.add_argument("member")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    """Open the database (migrating an embedded SQLite file), act, report; 1 on a refusal."""
    # Only what the action prints belongs on the console, not the ORM's start and stop.
    logging.getLogger("tortoise").setLevel(logging.WARNING)
    url = settings.resolved_database_url
    await open_database(url, apply_migrations=url.startswith("sqlite://"))
    try:
        await _ACTIONS[args.action](args)
    except users.UserStoreError as exc:
        print(f"fleethub user {args.action}: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        await close_database()
    return 0


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The password to set, and whether it was generated (so it must be shown)."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if len(password) < 8:
            raise users.UserStoreError(422, "a password is at least 8 characters")
        return password, False
    return users.generate_password(), True


async def _list(args: argparse.Namespace) -> None:
    for name in await users.list_users(limit=1_000_000, offset=0):
        is_admin, roles = await users.user_info(name)
        print(f"{name}{' *' if is_admin else ''}\t{', '.join(roles)}")


async def _add(args: argparse.Namespace) -> None:
    password, generated = _password(args)
    await users.create_user(args.name, password=password, is_admin=args.admin)
    print(f"added {args.name}" + (f"; password: {password}" if generated else ""))


async def _passwd(args: argparse.Namespace) -> None:
    password, generated = _password(args)
    await users.set_password(args.name, password)
    print(f"password of {args.name} set" + (f": {password}" if generated else ""))


async def _delete(args: argparse.Namespace) -> None:
    await users.delete_user(args.name)
    print(f"deleted {args.name}")


async def _admin(args: argparse.Namespace) -> None:
    await users.set_admin(args.name, not args.revoke)
    print(f"{args.name} is {'no longer ' if args.revoke else ''}an administrator")


async def _assign(args: argparse.Namespace) -> None:
    await users.add_user_role(args.name, args.role)
    print(f"{args.name} has role {args.role}")


async def _unassign(args: argparse.Namespace) -> None:
    await users.remove_user_role(args.name, args.role)
    print(f"{args.name} no longer has role {args.role}")


async def _roles(args: argparse.Namespace) -> None:
    for role in await users.list_roles():
        pairs = await users.role_permissions(role)
        print(f"{role}\t{', '.join(f'{p} on {g}' for p, g in pairs)}")


async def _role_add(args: argparse.Namespace) -> None:
    await users.create_role(args.role)
    print(f"added role {args.role}")


async def _role_delete(args: argparse.Namespace) -> None:
    await users.delete_role(args.role)
    print(f"deleted role {args.role}")


async def _grant(args: argparse.Namespace) -> None:
    await users.grant(args.role, args.permission, args.group)
    print(f"{args.role} has {args.permission} on {args.group}")


async def _revoke(args: argparse.Namespace) -> None:
    await users.revoke(args.role, args.permission, args.group)
    print(f"{args.role} no longer has {args.permission} on {args.group}")


async def _groups(args: argparse.Namespace) -> None:
    for group in await users.list_groups():
        scope = await users.group_scope(group)
        members = [
            *(f"fleet {f}" for f in sorted(scope.fleets)),
            *(f"robot {f}/{r}" for f, r in sorted(scope.robots)),
            *(f"door {d}" for d in sorted(scope.doors)),
            *(f"lift {lift}" for lift in sorted(scope.lifts)),
        ]
        print(f"{group}\t{', '.join(members)}")


async def _group_add(args: argparse.Namespace) -> None:
    await users.create_group(args.group)
    print(f"added security group {args.group}")


async def _group_delete(args: argparse.Namespace) -> None:
    await users.delete_group(args.group)
    print(f"deleted security group {args.group}")


async def _group_member(args: argparse.Namespace) -> None:
    await users.add_member(args.group, args.kind, args.member)
    print(f"{args.group} names {args.kind} {args.member}")


async def _group_unmember(args: argparse.Namespace) -> None:
    await users.remove_member(args.group, args.kind, args.member)
    print(f"{args.group} no longer names {args.kind} {args.member}")


_ACTIONS: dict[str, Action] = {
    "list": _list,
    "add": _add,
    "passwd": _passwd,
    "delete": _delete,
    "admin": _admin,
    "assign": _assign,
    "unassign": _unassign,
    "roles": _roles,
    "role-add": _role_add,
    "role-delete": _role_delete,
    "grant": _grant,
    "revoke": _revoke,
    "groups": _groups,
    "group-add": _group_add,
    "group-delete": _group_delete,
    "group-member": _group_member,
    "group-unmember": _group_unmember,
}
