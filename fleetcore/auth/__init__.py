"""Authentication and authorization: tokens, principals, the user store.

``Authenticator`` turns a bearer token into a ``Principal``; a principal
answers every "may this user see/do that" question (see ``permissions``).
"""

from fleetcore.auth.authenticator import AUTH_OFF_USER, Authenticator
from fleetcore.auth.permissions import Permission, Principal, Scope, admin_principal

__all__ = ["AUTH_OFF_USER", "Authenticator", "Permission", "Principal", "Scope", "admin_principal"]
