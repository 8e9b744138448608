"""How a fleet or robot state says fleethub's VDA 5050 master control sends it.

rmf_api_msgs keeps fields it does not know, so the master control adds one,
``vda5050``, to each fleet state it sends (``true``) and to each robot's
state (``{"vehicle": "manufacturer/serialNumber", "paused": bool}``).
rest_api reads it to refuse the VDA-only operator controls (pause, charge,
clearing reservations) for RMF's own fleets; the dashboard to offer them.
"""

from __future__ import annotations

from typing import Any

MARK = "vda5050"


def is_vda_fleet(fleet_state: dict[str, Any]) -> bool:
    return fleet_state.get(MARK) is True
