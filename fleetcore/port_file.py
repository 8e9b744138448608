"""Where a process says which ports it listens on, for whoever started it on port 0.

A supervisor or a test that lets each server bind any free port (port 0:
nothing to pick in advance, so nothing to race for) gives the process
``FLEETHUB_PORT_FILE``; every server of the process adds ``name: port`` to
that JSON object once it listens. The file is replaced whole, never written
in place, so a reader sees the ports before or after, never half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def report_port(path: str, name: str, port: int) -> None:
    """Add ``name: port`` to the JSON object at ``path``; nothing when ``path`` is empty."""
    if not path:
        return
    target = Path(path)
    ports = json.loads(target.read_text()) if target.exists() else {}
    ports[name] = port
    partial = target.with_name(target.name + ".partial")
    partial.write_text(json.dumps(ports))
    os.replace(partial, target)
