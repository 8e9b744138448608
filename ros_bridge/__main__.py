"""``python -m ros_bridge``: the site bridge, configured like every fleethub process.

Settings come from ``FLEETHUB_*`` (``FLEETHUB_HUB_URL``, ``FLEETHUB_INGEST_TOKEN``,
``FLEETHUB_LOG_LEVEL``) and ``FLEETHUB_CONFIG``; ``fleethub bridge`` is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fleetcore.settings import Settings
from ros_bridge.app import run


def main() -> None:
    settings = Settings.load()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(settings))


if __name__ == "__main__":
    main()
