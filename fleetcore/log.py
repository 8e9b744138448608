"""Named loggers, one per subsystem. Handlers are configured only by the CLI."""

import logging
from urllib.parse import urlsplit, urlunsplit

hub_logger = logging.getLogger("fleethub.hub")
ingest_logger = logging.getLogger("fleethub.ingest")
store_logger = logging.getLogger("fleethub.store")
bus_logger = logging.getLogger("fleethub.bus")
proxy_logger = logging.getLogger("fleethub.proxy")
api_logger = logging.getLogger("fleethub.api")
sim_logger = logging.getLogger("fleethub.sim")
bridge_logger = logging.getLogger("fleethub.bridge")
auth_logger = logging.getLogger("fleethub.auth")
audit_logger = logging.getLogger("fleethub.audit")


def loggable_url(url: str) -> str:
    """``url`` fit for a log or a banner: no query (it may carry a token), no password."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
