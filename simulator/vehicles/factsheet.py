"""The factsheet a simulated vehicle publishes (retained): what a master control may ask of it."""

from __future__ import annotations

from fleetcore.contract.vda5050 import v2
from simulator.vehicles.vehicle import SimVehicle

LOAD_ACTION_PARAMETERS = [
    v2.ActionParameterSpec(key="stationType", valueDataType="STRING"),
    v2.ActionParameterSpec(key="loadType", valueDataType="STRING"),
    v2.ActionParameterSpec(key="stationName", valueDataType="STRING", isOptional=True),
]


def factsheet(vehicle: SimVehicle, header_id: int) -> v2.Factsheet:
    speed = vehicle.profile.speed_mps
    return v2.Factsheet(
        **vehicle.header(header_id),  # type: ignore[arg-type]
        typeSpecification=v2.TypeSpecification(
            seriesName="fleethub-sim",
            seriesDescription="fleethub's simulated VDA 5050 vehicle",
            agvKinematic="DIFF",
            agvClass="CARRIER",
            maxLoadMass=50.0,
            localizationTypes=["NATURAL"],
            navigationTypes=["VIRTUAL_LINE_GUIDED"],
        ),
        physicalParameters=v2.PhysicalParameters(
            speedMin=0.0,
            speedMax=speed,
            accelerationMax=1.0,
            decelerationMax=1.0,
            heightMax=1.0,
            width=0.6,
            length=0.9,
        ),
        protocolLimits=v2.ProtocolLimits(
            maxStringLens={"idLen": 256},
            maxArrayLens={"order.nodes": 1000, "order.edges": 999},
            timing=v2.Timing(minOrderInterval=0.1, minStateInterval=0.1, defaultStateInterval=0.5),
        ),
        agvGeometry={
            "envelopes2d": [
                {
                    "set": "default",
                    "polygonPoints": [
                        {"x": 0.45, "y": 0.3},
                        {"x": -0.45, "y": 0.3},
                        {"x": -0.45, "y": -0.3},
                        {"x": 0.45, "y": -0.3},
                    ],
                }
            ]
        },
        loadSpecification={"loadPositions": ["deck"]},
        protocolFeatures=v2.ProtocolFeatures(
            optionalParameters=[],
            agvActions=[
                v2.AgvAction(
                    actionType=kind,
                    actionScopes=["NODE"],
                    actionParameters=LOAD_ACTION_PARAMETERS,
                )
                for kind in ("pick", "drop")
            ]
            + [
                v2.AgvAction(actionType=kind, actionScopes=["INSTANT"])
                for kind in (
                    "cancelOrder",
                    "startPause",
                    "stopPause",
                    "startCharging",
                    "stopCharging",
                    "stateRequest",
                    "factsheetRequest",
                )
            ],
        ),
    )
