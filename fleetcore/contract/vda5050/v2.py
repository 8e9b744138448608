"""VDA 5050 2.x messages (2.0 and 2.1 share the ``v2`` topic level and these shapes).

Field names and JSON types are those of the official 2.1.0 JSON schemas; where
the spec's text and the schemas differ, the text wins, as the spec says
(``actionStatus`` may be ``PAUSED``; factsheet ``blockingTypes`` is a list of
the enum, not an enum on the list). Every model refuses non-finite numbers,
wrong JSON types (strict: ``"1"`` is not a number, ``1.0`` is not an integer)
and unknown enum values, and bounds strings and lists; unknown fields are
kept, since vendors may add their own and the schemas do not forbid it.

3.0 renames and splits some of these (``mobileRobotPosition``, ``powerSupply``,
``instantActionStates``); it gets a module of its own beside this one, and
:mod:`vda5050.vehicles` reads both through the same few attributes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

MAX_ITEMS = 10_000
"""Upper bound of any list; the message itself is size-capped before it is parsed."""

Id = Annotated[str, StringConstraints(max_length=256)]
"""An identifier (node, edge, action, order, map...); the spec suggests ``A-Za-z0-9_-.:``."""
Text = Annotated[str, StringConstraints(max_length=4096)]
"""A description or hint."""
Uint32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
Angle = Annotated[float, Field(ge=-3.14159265359, le=3.14159265359)]
NonNegative = Annotated[float, Field(ge=0.0)]


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, as the spec writes it (``...T11:40:03.120Z``)."""
    utc = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


Timestamp = Annotated[datetime, PlainSerializer(format_timestamp, return_type=str)]


T = TypeVar("T")
Items = Annotated[list[T], Field(max_length=MAX_ITEMS)]
"""A list bounded by :data:`MAX_ITEMS`."""


class VdaModel(BaseModel):
    """Base of every VDA 5050 model: strict JSON types, finite numbers, extra fields kept."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, strict=True)


class Header(VdaModel):
    """The protocol header every message starts with (not a JSON object of its own)."""

    headerId: Uint32
    timestamp: Timestamp
    version: Annotated[str, StringConstraints(max_length=32)]
    manufacturer: Id
    serialNumber: Id


# ---------------------------------------------------------------------- actions


class ActionParameter(VdaModel):
    key: Id
    value: list[Any] | bool | int | float | str | dict[str, Any]


BlockingType = Literal["NONE", "SOFT", "HARD"]


class Action(VdaModel):
    actionType: Id
    actionId: Id
    actionDescription: Text | None = None
    blockingType: BlockingType
    actionParameters: Items[ActionParameter] | None = None


# ------------------------------------------------------------------------ order


class NodePosition(VdaModel):
    x: float
    y: float
    theta: Angle | None = None
    allowedDeviationXY: NonNegative | None = None
    allowedDeviationTheta: Angle | None = None
    mapId: Id
    mapDescription: Text | None = None


class Node(VdaModel):
    nodeId: Id
    sequenceId: Uint32
    nodeDescription: Text | None = None
    released: bool
    nodePosition: NodePosition | None = None
    actions: Items[Action]


class ControlPoint(VdaModel):
    x: float
    y: float
    weight: NonNegative | None = None


class Trajectory(VdaModel):
    degree: Annotated[int, Field(ge=1)]
    knotVector: Items[Annotated[float, Field(ge=0.0, le=1.0)]]
    controlPoints: Items[ControlPoint]


class Corridor(VdaModel):
    leftWidth: NonNegative
    rightWidth: NonNegative
    corridorRefPoint: Literal["KINEMATICCENTER", "CONTOUR"] | None = None


class Edge(VdaModel):
    edgeId: Id
    sequenceId: Uint32
    edgeDescription: Text | None = None
    released: bool
    startNodeId: Id
    endNodeId: Id
    maxSpeed: float | None = None
    maxHeight: float | None = None
    minHeight: float | None = None
    orientation: Angle | None = None
    orientationType: Literal["GLOBAL", "TANGENTIAL"] | None = None
    direction: Id | None = None
    rotationAllowed: bool | None = None
    maxRotationSpeed: float | None = None
    length: float | None = None
    trajectory: Trajectory | None = None
    corridor: Corridor | None = None
    actions: Items[Action]


class Order(Header):
    orderId: Id
    orderUpdateId: Uint32
    zoneSetId: Id | None = None
    nodes: Items[Node]
    edges: Items[Edge]


class InstantActions(Header):
    actions: Items[Action]


# ------------------------------------------------------------------------ state


class MapInfo(VdaModel):
    mapId: Id
    mapVersion: Id
    mapDescription: Text | None = None
    mapStatus: Literal["ENABLED", "DISABLED"]


class StateNodePosition(VdaModel):
    x: float
    y: float
    theta: float | None = None
    mapId: Id


class NodeState(VdaModel):
    nodeId: Id
    sequenceId: Uint32
    nodeDescription: Text | None = None
    released: bool
    nodePosition: StateNodePosition | None = None


class EdgeState(VdaModel):
    edgeId: Id
    sequenceId: Uint32
    edgeDescription: Text | None = None
    released: bool
    trajectory: Trajectory | None = None


class AgvPosition(VdaModel):
    x: float
    y: float
    theta: float
    mapId: Id
    mapDescription: Text | None = None
    positionInitialized: bool
    localizationScore: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    deviationRange: float | None = None


class Velocity(VdaModel):
    vx: float | None = None
    vy: float | None = None
    omega: float | None = None


class BoundingBoxReference(VdaModel):
    x: float
    y: float
    z: float
    theta: float | None = None


class LoadDimensions(VdaModel):
    length: float
    width: float
    height: float | None = None


class Load(VdaModel):
    loadId: Id | None = None
    loadType: Id | None = None
    loadPosition: Id | None = None
    boundingBoxReference: BoundingBoxReference | None = None
    loadDimensions: LoadDimensions | None = None
    weight: NonNegative | None = None


ActionStatus = Literal["WAITING", "INITIALIZING", "RUNNING", "PAUSED", "FINISHED", "FAILED"]
"""The schema's enum lacks ``PAUSED``; the spec's text (which wins) has it."""
DONE_STATUSES: frozenset[str] = frozenset({"FINISHED", "FAILED"})


class ActionState(VdaModel):
    actionId: Id
    actionType: Id | None = None
    actionDescription: Text | None = None
    actionStatus: ActionStatus
    resultDescription: Text | None = None


class BatteryState(VdaModel):
    batteryCharge: Annotated[float, Field(ge=0.0, le=100.0)]
    """Percent."""
    batteryVoltage: float | None = None
    batteryHealth: Annotated[float, Field(ge=0.0, le=100.0)] | None = None
    charging: bool
    reach: NonNegative | None = None


class Reference(VdaModel):
    referenceKey: Id
    referenceValue: Text


class Error(VdaModel):
    errorType: Id
    errorReferences: Items[Reference] | None = None
    errorDescription: Text | None = None
    errorHint: Text | None = None
    errorLevel: Literal["WARNING", "FATAL"]


class Information(VdaModel):
    infoType: Id
    infoReferences: Items[Reference] | None = None
    infoDescription: Text | None = None
    infoLevel: Literal["INFO", "DEBUG"]


class SafetyState(VdaModel):
    eStop: Literal["AUTOACK", "MANUAL", "REMOTE", "NONE"]
    fieldViolation: bool


OperatingMode = Literal["AUTOMATIC", "SEMIAUTOMATIC", "MANUAL", "SERVICE", "TEACHIN"]


class State(Header):
    maps: Items[MapInfo] | None = None
    orderId: Id
    orderUpdateId: Uint32
    zoneSetId: Id | None = None
    lastNodeId: Id
    lastNodeSequenceId: Uint32
    driving: bool
    paused: bool | None = None
    newBaseRequest: bool | None = None
    distanceSinceLastNode: float | None = None
    operatingMode: OperatingMode
    nodeStates: Items[NodeState]
    edgeStates: Items[EdgeState]
    agvPosition: AgvPosition | None = None
    velocity: Velocity | None = None
    loads: Items[Load] | None = None
    actionStates: Items[ActionState]
    batteryState: BatteryState
    errors: Items[Error]
    information: Items[Information] | None = None
    safetyState: SafetyState


# ------------------------------------------------- connection, visualization, factsheet

ConnectionState = Literal["ONLINE", "OFFLINE", "CONNECTIONBROKEN"]


class Connection(Header):
    connectionState: ConnectionState


class Visualization(VdaModel):
    """Every field is optional (the topic is for visualization only)."""

    headerId: Uint32 | None = None
    timestamp: Timestamp | None = None
    version: Annotated[str, StringConstraints(max_length=32)] | None = None
    manufacturer: Id | None = None
    serialNumber: Id | None = None
    agvPosition: AgvPosition | None = None
    velocity: Velocity | None = None


class TypeSpecification(VdaModel):
    seriesName: Id
    seriesDescription: Text | None = None
    agvKinematic: Literal["DIFF", "OMNI", "THREEWHEEL"]
    agvClass: Literal["FORKLIFT", "CONVEYOR", "TUGGER", "CARRIER"]
    maxLoadMass: NonNegative
    localizationTypes: Items[Literal["NATURAL", "REFLECTOR", "RFID", "DMC", "SPOT", "GRID"]]
    navigationTypes: Items[Literal["PHYSICAL_LINE_GUIDED", "VIRTUAL_LINE_GUIDED", "AUTONOMOUS"]]


class PhysicalParameters(VdaModel):
    speedMin: float
    speedMax: float
    accelerationMax: float
    decelerationMax: float
    heightMin: float | None = None
    heightMax: float
    width: float
    length: float


class Timing(VdaModel):
    minOrderInterval: float
    minStateInterval: float
    defaultStateInterval: float | None = None
    visualizationInterval: float | None = None


class ProtocolLimits(VdaModel):
    maxStringLens: dict[str, int | bool]
    maxArrayLens: dict[str, int]
    timing: Timing


class ActionParameterSpec(VdaModel):
    key: Id
    valueDataType: Literal["BOOL", "NUMBER", "INTEGER", "FLOAT", "STRING", "OBJECT", "ARRAY"]
    description: Text | None = None
    isOptional: bool | None = None


class AgvAction(VdaModel):
    actionType: Id
    actionDescription: Text | None = None
    actionScopes: Items[Literal["INSTANT", "NODE", "EDGE"]]
    actionParameters: Items[ActionParameterSpec] | None = None
    resultDescription: Text | None = None
    blockingTypes: Items[BlockingType] | None = None


class OptionalParameter(VdaModel):
    parameter: Id
    support: Literal["SUPPORTED", "REQUIRED"]
    description: Text | None = None


class ProtocolFeatures(VdaModel):
    optionalParameters: Items[OptionalParameter]
    agvActions: Items[AgvAction]


class Factsheet(VdaModel):
    """Header fields are optional here in the 2.1 schema; the rest is what a master control reads."""

    headerId: Uint32 | None = None
    timestamp: Timestamp | None = None
    version: Annotated[str, StringConstraints(max_length=32)]
    manufacturer: Id
    serialNumber: Id
    typeSpecification: TypeSpecification
    physicalParameters: PhysicalParameters
    protocolLimits: ProtocolLimits
    protocolFeatures: ProtocolFeatures
    agvGeometry: dict[str, Any]
    loadSpecification: dict[str, Any]
    vehicleConfig: dict[str, Any] | None = None


def battery_fraction(state: State) -> float:
    """``batteryCharge`` (percent) as RMF's 0-1 fraction."""
    return min(1.0, max(0.0, state.batteryState.batteryCharge / 100.0))
