// Photos and clips attached to an alert, a robot or a task: thumbnails, a viewer, new ones live.
// An alert about a robot also shows that robot's media captured around it: a robot that got
// stuck uploads what it saw attached to itself, since it cannot know the alert the hub made.
//
// The list comes from GET /media, whose items carry short-lived signed URLs: an <img> or <video>
// sends no bearer header, so the URL itself is the permission, and a video seeks by HTTP Range.
// The /media room says only that something new was attached (its row, without URLs), so a
// strip that hears of one for its own attachment lists again to get signed URLs.

import { useCallback, useEffect, useState } from "preact/hooks";
import { get, q, type Position } from "./api";
import { errorText, time } from "./format";
import type { Live } from "./live";

export type AttachedTo = "alert" | "robot" | "task";

export interface MediaItem {
  id: string;
  kind: "image" | "video";
  content_type: string;
  attached_to: string;
  attached_id: string;
  unix_millis_capture_time: number;
  uploaded_by: string;
  url: string;
  thumbnail_url: string | null;
}

/** A robot's media captured in a span of time (unix millis, both ends included). */
export interface Around {
  fleet: string;
  robot: string;
  from: number;
  to: number;
}

const MEDIA_ROOM = "/media";
const MOST = 24;

export function MediaStrip({ live, attachedTo, attachedId, around }: { live: Live; attachedTo: AttachedTo; attachedId: string; around?: Around }) {
  const [items, setItems] = useState<MediaItem[] | null>(null);
  const [error, setError] = useState("");
  const [open, setOpen] = useState<MediaItem | null>(null);
  // Plain values, not the object: a parent renders a new one each time.
  const { fleet, robot, from = 0, to = 0 } = around ?? {};

  const load = useCallback(async (): Promise<Position> => {
    try {
      const attached = await get<MediaItem[]>(`/media?attached_to=${attachedTo}&attached_id=${q(attachedId)}&limit=${MOST}`);
      let found = attached.data;
      if (fleet !== undefined && robot !== undefined) {
        // Listed after the first: subscribing from the first's position misses neither's news.
        const during = await get<MediaItem[]>(`/media?fleet=${q(fleet)}&robot=${q(robot)}&between=${from},${to}&limit=${MOST}`);
        const ids = new Set(found.map((item) => item.id));
        found = [...found, ...during.data.filter((item) => !ids.has(item.id))]
          .sort((a, b) => b.unix_millis_capture_time - a.unix_millis_capture_time)
          .slice(0, MOST);
      }
      setItems(found);
      setError("");
      return attached.position;
    } catch (err) {
      setError(errorText(err));
      throw err;
    }
  }, [attachedTo, attachedId, fleet, robot, from, to]);

  useEffect(() => {
    setItems(null);
    setOpen(null);
    let off: (() => void) | undefined;
    let gone = false;
    const mine = (data: unknown) => {
      const row = data as { attached_to?: string; attached_id?: string; fleet?: string; robot?: string; unix_millis_capture_time?: number };
      const attached = row.attached_to === attachedTo && row.attached_id === attachedId;
      const captured = row.unix_millis_capture_time ?? -1;
      const during = robot !== undefined && row.fleet === fleet && row.robot === robot && captured >= from && captured <= to;
      if (attached || during) void load().catch(() => undefined);
    };
    load().then(
      (position) => {
        if (!gone) off = live.subscribe(MEDIA_ROOM, mine, position, load);
      },
      () => undefined,
    );
    return () => {
      gone = true;
      off?.();
    };
  }, [live, load, attachedTo, attachedId, fleet, robot, from, to]);

  const retry = () => {
    setError("");
    setItems(null);
    void load().catch(() => undefined);
  };
  let body;
  if (error) {
    body = (
      <p class="error" data-state="error">
        Media unavailable: {error}{" "}
        <button class="link" onClick={retry}>
          retry
        </button>
      </p>
    );
  } else if (items === null) {
    body = (
      <p class="muted" data-state="loading">
        Loading media…
      </p>
    );
  } else if (!items.length) {
    body = (
      <p class="muted" data-state="empty">
        No photos or clips.
      </p>
    );
  } else {
    body = (
      <ul class="thumbs" data-state="loaded">
        {items.map((item) => (
          <li key={item.id}>
            <button class="thumb" data-media={item.id} data-kind={item.kind} onClick={() => setOpen(item)} aria-label={`open ${item.kind} of ${time(item.unix_millis_capture_time)}`}>
              {item.thumbnail_url ? <img src={item.thumbnail_url} alt="" loading="lazy" /> : <span class="play">▶</span>}
            </button>
          </li>
        ))}
      </ul>
    );
  }
  return (
    <div class="media" data-testid="media" data-attached={`${attachedTo}:${attachedId}`}>
      {body}
      {open && <MediaViewer item={open} onClose={() => setOpen(null)} onExpired={retry} />}
    </div>
  );
}

/** The whole image, or the clip with the browser's own controls, over the page until closed. */
function MediaViewer({ item, onClose, onExpired }: { item: MediaItem; onClose: () => void; onExpired: () => void }) {
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onClose]);
  return (
    <div class="viewer" role="dialog" aria-modal="true" aria-label="media viewer" data-testid="media-viewer" onClick={onClose}>
      <figure onClick={(e) => e.stopPropagation()}>
        {failed ? (
          <p class="error">
            The file could not be loaded (its link may have expired).{" "}
            <button class="link" onClick={() => (onClose(), onExpired())}>
              reload the list
            </button>
          </p>
        ) : item.kind === "video" ? (
          <video src={item.url} controls preload="metadata" playsInline onError={() => setFailed(true)} />
        ) : (
          <img src={item.url} alt={`attached to ${item.attached_to} ${item.attached_id}`} onError={() => setFailed(true)} />
        )}
        <figcaption>
          {item.kind} captured {time(item.unix_millis_capture_time)}, uploaded by {item.uploaded_by}
          <button class="close" onClick={onClose} aria-label="close viewer">
            ×
          </button>
        </figcaption>
      </figure>
    </div>
  );
}
