"""Telling the operator, once, how to log in as the first administrator.

The password is generated (never a default in code) and shown only here, on
the console of the first start; the store keeps only its argon2 hash.
"""

from __future__ import annotations

import sys

from fleetcore.auth.users import FIRST_ADMIN


def announce_first_admin(password: str) -> None:
    """Print the generated credentials and how to use and change them."""
    print(
        "\n"
        "  ================= first run: an administrator was created =================\n"
        f"  username: {FIRST_ADMIN}\n"
        f"  password: {password}\n"
        "  It is shown only this once. Log in with\n"
        "    curl -X POST <base>/auth/token -H 'Content-Type: application/json' \\\n"
        f'         -d \'{{"username": "{FIRST_ADMIN}", "password": "..."}}\'\n'
        "  and send the access_token as 'Authorization: Bearer <token>'.\n"
        f"  Change it with: fleethub user passwd {FIRST_ADMIN}\n"
        "  ============================================================================\n",
        file=sys.stdout,
        flush=True,
    )
