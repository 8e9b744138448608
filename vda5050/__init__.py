"""The VDA 5050 master control: vehicles over MQTT, shown and commanded like Open-RMF fleets.

A site like an RMF fleet adapter or ``fleethub bridge``: it talks VDA 5050
over MQTT to the vehicles and ``/_internal`` to the hub (``fleethub
vda5050``, or inside ``fleethub up``).

- :mod:`vda5050.master`: the master control itself (vehicles, tasks, orders), driven from outside.
- :mod:`vda5050.service`: it, running against a broker and a hub.
"""
