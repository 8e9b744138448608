"""fleethub's exceptions, all under one base so callers can catch by layer.

::

    FleethubError
    ├── ConfigError            settings that cannot be used
    ├── ContractError          a message or room that breaks the wire contract
    │   ├── UnknownRoom
    │   └── IngestRejected     carries a machine-readable ``reason``
    ├── NotLeading             a standby hub was asked to do a leader's work
    ├── PartFailed             a part of the process stopped for good (logged where it failed)
    ├── AuthError              a request that is not authenticated or not allowed
    │   └── Unauthorized       401: no valid token; carries a machine-readable ``reason``
    ├── BusError               the bus between the hub and its readers
    │   └── UnrecoverablePosition   a resume point outside the replay window
    └── StoreError             the database
        ├── FencedOut          a write carrying an older leadership epoch
        └── WriterFailed       the writer cannot go on: the process must be restarted
"""

from __future__ import annotations


class FleethubError(Exception):
    """Base of every error fleethub raises on purpose."""


class ConfigError(FleethubError):
    """A setting is missing, malformed or inconsistent."""


class ContractError(FleethubError):
    """Input that breaks the wire contract."""


class UnknownRoom(ContractError):
    """A room name that matches no known room template."""


class IngestRejected(ContractError):
    """An ingest message was refused.

    ``reason`` is a short stable token (used as a metrics label and in the
    rejection sent back to the sender); ``detail`` is for humans.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class NotLeading(FleethubError):
    """This hub is a standby (or just stepped down): it neither ingests nor writes."""


class PartFailed(FleethubError):
    """A part of this process (the simulator, say) stopped for good: its failure was logged
    at ERROR where it happened, and the process ends (status 1) so its supervisor restarts it."""


class AuthError(FleethubError):
    """Authentication or authorization refused a request."""


class Unauthorized(AuthError):
    """No valid credentials (401).

    ``reason`` is a short stable token (``missing_token``, ``expired``,
    ``bad_signature``, ``wrong_audience``, ``wrong_issuer``, ``not_yet_valid``,
    ``unknown_kid``, ``malformed``, ``disallowed_algorithm``, ``unknown_user``,
    ``bad_credentials``...), used as a metrics label and told to the client.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class BusError(FleethubError):
    """The bus failed or was used against its contract."""


class UnrecoverablePosition(BusError):
    """A client asked to resume from a position the bus no longer holds."""


class StoreError(FleethubError):
    """The database failed or was used against its contract."""


class FencedOut(StoreError):
    """A write carried a leadership epoch older than the current one."""


class WriterFailed(StoreError):
    """The hub's writer met a failure that retrying cannot mend (the database refuses
    every write, the bus every publication); the process ends so that it is restarted."""
