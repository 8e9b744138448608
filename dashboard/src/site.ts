// The live picture of the site: the building map, robots with their connectivity, doors, lifts
// and open alerts, loaded from REST snapshots and kept current by rooms.

import { ApiError, get, post, q, type Position } from "./api";
import type { Live } from "./live";
import { Store } from "./store";
import type {
  AlertRequest,
  AlertResponse,
  BuildingMap,
  DerivedEvent,
  DoorState,
  FleetState,
  LiftState,
  RobotState,
} from "./types";

export type Link = "online" | "stale" | "offline";

export interface Robot {
  fleet: string;
  name: string;
  state: RobotState;
  /** Whether the fleet's last state still listed the robot. */
  reporting: boolean;
  link: Link;
}

export const robotKey = (fleet: string, name: string) => `${fleet}/${name}`;

const LINK_KINDS = ["robot_online", "robot_stale", "robot_offline"];
const FLEET_REFRESH_MS = 15000;

export class Site {
  readonly map = new Store<BuildingMap | null>(null);
  readonly robots = new Store<Map<string, Robot>>(new Map());
  readonly doors = new Store<Map<string, DoorState>>(new Map());
  readonly lifts = new Store<Map<string, LiftState>>(new Map());
  readonly alerts = new Store<Map<string, AlertRequest>>(new Map());
  private readonly links = new Map<string, Link>();
  private readonly fleets = new Set<string>();
  private readonly devices = new Set<string>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private eventsPosition: Position = { seq: null, epoch: null };

  constructor(private readonly live: Live) {}

  async start(): Promise<void> {
    this.live.subscribe("/building_map", (data) => this.setMap(data as BuildingMap));
    await Promise.all([this.loadFleets(), this.loadLinks(), this.loadAlerts()]);
    this.live.subscribe("/events", (data) => this.onEvent(data as DerivedEvent), this.eventsPosition, () =>
      this.loadLinks(),
    );
    this.timer = setInterval(() => void this.loadFleets(), FLEET_REFRESH_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private setMap(map: BuildingMap): void {
    this.map.set(map);
    for (const level of map.levels) {
      for (const door of level.doors) {
        this.follow(`/doors/${q(door.name)}/state`, (data) => {
          this.doors.update((doors) => new Map(doors).set(door.name, data as DoorState));
        });
      }
    }
    for (const lift of map.lifts) {
      this.follow(`/lifts/${q(lift.name)}/state`, (data) => {
        this.lifts.update((lifts) => new Map(lifts).set(lift.name, data as LiftState));
      });
    }
  }

  /** Join a device's state room once, however often the map is published again. */
  private follow(room: string, handler: (data: unknown) => void): void {
    if (this.devices.has(room)) return;
    this.devices.add(room);
    this.live.subscribe(room, handler);
  }

  /** Follow every fleet: the first time from the snapshot, later ones only when new. */
  private async loadFleets(): Promise<void> {
    const { data, position } = await get<FleetState[]>("/fleets");
    for (const fleet of data) {
      // A followed fleet's room is already newer than (or as new as) this snapshot.
      if (this.fleets.has(fleet.name)) continue;
      this.fleets.add(fleet.name);
      this.onFleet(fleet);
      this.live.subscribe(`/fleets/${q(fleet.name)}/state`, (d) => this.onFleet(d as FleetState), position);
    }
  }

  private onFleet(fleet: FleetState): void {
    const robots = new Map(this.robots.value);
    for (const [key, robot] of robots) {
      if (robot.fleet === fleet.name && !(robot.name in fleet.robots)) {
        robots.set(key, { ...robot, reporting: false });
      }
    }
    for (const [name, state] of Object.entries(fleet.robots)) {
      const key = robotKey(fleet.name, name);
      robots.set(key, {
        fleet: fleet.name,
        name,
        state,
        reporting: true,
        link: this.links.get(key) ?? "online",
      });
    }
    this.robots.set(robots);
  }

  /** The newest connectivity event of each robot says where it stands now. */
  private async loadLinks(): Promise<Position> {
    const { data, position } = await get<DerivedEvent[]>(`/events?kind=${LINK_KINDS.join(",")}&limit=1000`);
    for (const event of [...data].reverse()) this.onEvent(event);
    this.eventsPosition = position;
    return position;
  }

  private onEvent(event: DerivedEvent): void {
    if (!LINK_KINDS.includes(event.kind) || !event.fleet || !event.robot) return;
    const key = robotKey(event.fleet, event.robot);
    const link = event.kind.slice("robot_".length) as Link;
    this.links.set(key, link);
    const robot = this.robots.value.get(key);
    if (robot) this.robots.set(new Map(this.robots.value).set(key, { ...robot, link }));
  }

  private async loadAlerts(): Promise<void> {
    const position = await this.reloadAlerts();
    this.live.subscribe(
      "/alerts/requests",
      (d) => {
        const alert = d as AlertRequest;
        if (alert.responses_available.length) {
          this.alerts.update((alerts) => new Map(alerts).set(alert.id, alert));
        }
      },
      position,
      () => this.reloadAlerts(),
    );
    this.live.subscribe("/alerts/responses", (d) => this.dropAlert((d as AlertResponse).id), position, () =>
      this.reloadAlerts(),
    );
  }

  private async reloadAlerts(): Promise<Position> {
    const { data, position } = await get<AlertRequest[]>("/alerts/unresponded_requests?limit=200");
    this.alerts.set(new Map(data.map((alert) => [alert.id, alert])));
    return position;
  }

  private dropAlert(id: string): void {
    if (!this.alerts.value.has(id)) return;
    const alerts = new Map(this.alerts.value);
    alerts.delete(id);
    this.alerts.set(alerts);
  }

  /** Answer an alert; a 409 (someone else answered first) also closes it here. */
  async respond(id: string, response: string): Promise<void> {
    try {
      await post(`/alerts/request/${q(id)}/respond?response=${q(response)}`);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
    this.dropAlert(id);
  }
}
