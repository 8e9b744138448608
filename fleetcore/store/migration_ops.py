"""Migration operations of our own, for the migrations under ``fleetcore/store/migrations``."""

from __future__ import annotations

from typing import Any

from tortoise.migrations import operations as ops


class RunPostgresSQL(ops.RunSQL):
    """SQL that only PostgreSQL runs (triggers, planner statistics): SQLite goes without what
    it sets up, and the readers relying on it check the dialect."""

    async def database_forward(
        self, app_label: str, old_state: Any, new_state: Any, state_editor: Any = None
    ) -> None:
        if state_editor and state_editor.client.capabilities.dialect == "postgres":
            await super().database_forward(app_label, old_state, new_state, state_editor)
