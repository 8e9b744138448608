"""Authentication and authorization: tokens, principals, the user store.

``Authenticator`` turns a bearer token into a ``Principal``; a principal
answers every "may this user see/do that" question (see ``permissions``).
"""

from fleetcore.auth.authenticator import ANONYMOUS, Authenticator
from fleetcore.auth.permissions import Permission, Principal, Scope, admin_principal

__all__ = ["ANONYMOUS", "Authenticator", "Permission", "Principal", "Scope", "admin_principal"]
