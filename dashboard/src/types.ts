// The RMF JSON models the dashboard reads (the subset it uses), as rest_api and the rooms send them.

export interface Param {
  name: string;
  value_string?: string;
  value_bool?: boolean;
}
export interface GraphNode {
  x: number;
  y: number;
  name: string;
  params: Param[];
}
export interface Graph {
  vertices: GraphNode[];
  edges: { v1_idx: number; v2_idx: number }[];
}
export interface Door {
  name: string;
  v1_x: number;
  v1_y: number;
  v2_x: number;
  v2_y: number;
}
export interface Level {
  name: string;
  places: { name: string; x: number; y: number }[];
  doors: Door[];
  nav_graphs: Graph[];
}
export interface Lift {
  name: string;
  levels: string[];
  ref_x: number;
  ref_y: number;
  width: number;
  depth: number;
}
export interface BuildingMap {
  name: string;
  levels: Level[];
  lifts: Lift[];
}

export interface RobotState {
  name?: string;
  status?: string | null;
  task_id?: string | null;
  unix_millis_time?: number | null;
  location?: { map: string; x: number; y: number; yaw: number } | null;
  battery?: number | null;
  issues?: { category: string; detail: unknown }[] | null;
  commission?: { dispatch_tasks?: boolean | null; direct_tasks?: boolean | null } | null;
  /** Set by fleethub's VDA 5050 master control on its robots: they take its operator controls. */
  vda5050?: { vehicle: string; paused: boolean };
}
export interface FleetState {
  name: string;
  robots: Record<string, RobotState>;
}

export interface DoorState {
  door_name: string;
  current_mode: { value: number };
}
export interface LiftState {
  lift_name: string;
  current_floor: string;
  destination_floor: string;
  door_state: number;
  motion_state: number;
}

export interface EventState {
  id: number;
  status?: string;
  name?: string;
  detail?: unknown;
}
export interface PhaseState {
  id: number;
  category?: string;
  detail?: unknown;
  events?: Record<string, EventState>;
  unix_millis_start_time?: number;
  unix_millis_finish_time?: number;
}
export interface TaskState {
  booking: { id: string; unix_millis_request_time?: number; requester?: string; labels?: string[] };
  category?: string;
  detail?: unknown;
  status?: string;
  assigned_to?: { group: string; name: string } | null;
  phases?: Record<string, PhaseState>;
  active?: number;
  unix_millis_start_time?: number;
  unix_millis_finish_time?: number;
  estimate_millis?: number;
}
export interface LogEntry {
  seq: number;
  tier: string;
  unix_millis_time: number;
  text: string;
}
export interface TaskLog {
  task_id: string;
  log?: LogEntry[] | null;
  phases?: Record<string, { log?: LogEntry[] | null; events?: Record<string, LogEntry[]> | null }> | null;
}

export interface AlertRequest {
  id: string;
  unix_millis_alert_time: number;
  title: string;
  subtitle: string;
  message: string;
  tier: "info" | "warning" | "error";
  responses_available: string[];
  alert_parameters: { name: string; value: string }[];
  task_id?: string | null;
}
export interface AlertResponse {
  id: string;
  response: string;
  responder?: string;
}

export interface DerivedEvent {
  seq?: number;
  kind: string;
  severity: string;
  unix_millis_time: number;
  fleet: string | null;
  robot: string | null;
}

/** The envelope a room delivers when the client asks for envelopes. */
export interface Envelope<T = unknown> {
  room: string;
  seq: number;
  epoch: number;
  received_ms: number;
  data: T;
}
