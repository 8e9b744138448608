// The socket.io connection to the proxy: rooms with resume by seq, and the connection's status.
//
// Every room is subscribed with the position of the data the page already has (a REST snapshot's
// X-Fleethub-Seq, then each envelope's seq), so a reconnect replays what was missed. When the
// proxy answers that a room cannot be resumed (the gap left its replay window, or the hub's epoch
// changed) the room's `reload` fetches a fresh snapshot. The status tells the operator whether
// what the page shows is current: "live", "reconnecting" (showing data as of the drop), and
// "resynced" for a few seconds after the page caught up again.

import { io, type Socket } from "socket.io-client";
import { getToken, type Position } from "./api";
import { Store } from "./store";
import type { Envelope } from "./types";

export type LinkStatus = "connecting" | "live" | "reconnecting" | "resynced";

export interface ConnectionInfo {
  status: LinkStatus;
  /** When the page last had a working connection (ms), shown while reconnecting. */
  since: number;
  detail: string;
}

type Handler = (data: unknown, envelope: Envelope) => void;

interface Room {
  handlers: Set<Handler>;
  reload?: () => Promise<Position>;
  seq: number | null;
  epoch: number | null;
}

const RESYNCED_HOLD_MS = 5000;
const ACK_TIMEOUT_MS = 10000;

interface SubscribeAck {
  success: boolean;
  resync?: boolean;
  error?: string;
  retry_after_s?: number;
}

export class Live {
  readonly connection = new Store<ConnectionInfo>({
    status: "connecting",
    since: Date.now(),
    detail: "connecting",
  });
  /** The proxy said the token expired: the page must log in again and refresh it. */
  readonly tokenExpired = new Store<boolean>(false);
  private readonly rooms = new Map<string, Room>();
  private readonly socket: Socket;
  private wasConnected = false;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;

  constructor() {
    this.socket = io({
      path: "/socket.io",
      transports: ["websocket"],
      autoConnect: false,
      auth: (cb) => cb({ token: getToken(), envelopes: true }),
    });
    this.socket.on("connect", () => void this.onConnect());
    this.socket.on("disconnect", (reason) => this.onDisconnect(reason));
    this.socket.on("connect_error", (err) => {
      this.setStatus(this.wasConnected ? "reconnecting" : "connecting", err.message);
      // The proxy refused the connection itself (not a network error): the token is missing,
      // expired or revoked. socket.io does not retry a refusal; a new token connects again.
      if ((err as { data?: unknown }).data !== undefined) this.tokenExpired.set(true);
    });
    this.socket.on("resync", (notice: { room: string; reason: string }) => {
      void this.resync([notice.room], notice.reason);
    });
    this.socket.on("token_expired", () => this.tokenExpired.set(true));
    this.socket.onAny((event: string, payload: Envelope) => this.deliver(event, payload));
  }

  start(): void {
    this.socket.connect();
  }

  stop(): void {
    this.socket.disconnect();
    this.rooms.clear();
  }

  /** Hand the proxy a new token after a login: on the open connection, or by connecting again. */
  refreshToken(token: string): void {
    this.tokenExpired.set(false);
    if (this.socket.connected) this.socket.emit("refresh_token", { token });
    else this.socket.connect();
  }

  /**
   * Join `room` from `position` (a snapshot's), calling `handler` with each update's data; returns
   * the call that leaves. Several handlers may share a room: the page joins it once, and a second
   * handler gets only later updates (it reads the current value over REST).
   */
  subscribe(
    room: string,
    handler: Handler,
    position?: Position,
    reload?: () => Promise<Position>,
  ): () => void {
    let entry = this.rooms.get(room);
    if (entry) {
      entry.handlers.add(handler);
    } else {
      entry = {
        handlers: new Set([handler]),
        reload,
        seq: position?.seq ?? null,
        epoch: position?.epoch ?? null,
      };
      this.rooms.set(room, entry);
      if (this.socket.connected) void this.join(room, entry);
    }
    const joined = entry;
    return () => {
      joined.handlers.delete(handler);
      if (joined.handlers.size || this.rooms.get(room) !== joined) return;
      this.rooms.delete(room);
      if (this.socket.connected) this.socket.emit("unsubscribe", { room });
    };
  }

  /** Subscribe; true when the proxy says the room must be reloaded (resync). */
  private async join(room: string, entry: Room): Promise<boolean> {
    const request: Record<string, unknown> = { room };
    if (entry.seq !== null) {
      request.since = entry.seq;
      if (entry.epoch !== null) request.epoch = entry.epoch;
    }
    let ack: SubscribeAck;
    try {
      ack = (await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck("subscribe", request)) as SubscribeAck;
    } catch {
      return false; // the connection dropped meanwhile: the next connect joins every room again
    }
    if (!ack.success && ack.error === "rate_limited") {
      setTimeout(() => {
        if (this.rooms.get(room) === entry && this.socket.connected) void this.join(room, entry);
      }, (ack.retry_after_s ?? 1) * 1000);
    } else if (!ack.success) {
      console.warn(`subscribe ${room}: ${ack.error}`);
    }
    return Boolean(ack.resync);
  }

  private deliver(event: string, payload: Envelope): void {
    const entry = this.rooms.get(event);
    if (!entry || !payload || typeof payload !== "object" || !("seq" in payload)) return;
    if (entry.seq !== null && entry.epoch === payload.epoch && payload.seq <= entry.seq) return;
    entry.seq = payload.seq;
    entry.epoch = payload.epoch;
    entry.handlers.forEach((handler) => handler(payload.data, payload));
  }

  private async onConnect(): Promise<void> {
    const reconnect = this.wasConnected;
    this.wasConnected = true;
    const rooms = [...this.rooms.entries()];
    const answers = await Promise.all(rooms.map(([room, entry]) => this.join(room, entry)));
    const gaps = rooms.filter((_, i) => answers[i]).map(([room]) => room);
    if (gaps.length) {
      await this.resync(gaps, "missed updates beyond the replay window");
    } else if (reconnect) {
      this.hold(`reconnected; ${rooms.length} rooms resumed without a gap`);
    } else {
      this.setStatus("live", "connected");
    }
  }

  private onDisconnect(reason: Socket.DisconnectReason): void {
    this.setStatus("reconnecting", reason);
    // A disconnect by the server (e.g. an expired token) is not retried by socket.io itself.
    if (reason === "io server disconnect") setTimeout(() => this.socket.connect(), 1000);
  }

  /** Reload the snapshot of each room that cannot be resumed, then say so. */
  private async resync(rooms: string[], reason: string): Promise<void> {
    for (const room of rooms) {
      const entry = this.rooms.get(room);
      if (!entry) continue;
      try {
        if (entry.reload) {
          const position = await entry.reload();
          entry.seq = position.seq;
          entry.epoch = position.epoch;
        } else {
          // A state room: joining afresh sends its latest value.
          entry.seq = entry.epoch = null;
          await this.join(room, entry);
        }
      } catch (err) {
        console.warn(`reloading ${room}`, err);
      }
    }
    this.hold(`reloaded ${rooms.length} room(s) from snapshots: ${reason}`);
  }

  private hold(detail: string): void {
    this.setStatus("resynced", detail);
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => {
      if (this.connection.value.status === "resynced") this.setStatus("live", detail);
    }, RESYNCED_HOLD_MS);
  }

  private setStatus(status: LinkStatus, detail: string): void {
    const previous = this.connection.value;
    const since = status === "live" || status === "resynced" ? Date.now() : previous.since;
    this.connection.set({ status, since, detail });
  }
}
