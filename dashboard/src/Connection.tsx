// The connection indicator: whether what the page shows is current.

import type { Live } from "./live";
import { useStore } from "./store";

const LABELS = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  resynced: "resynced",
};

export function ConnectionBadge({ live }: { live: Live }) {
  const info = useStore(live.connection);
  const stale = info.status === "reconnecting" ? ` — showing data as of ${new Date(info.since).toLocaleTimeString()}` : "";
  return (
    <span class={`connection ${info.status}`} data-testid="connection" data-status={info.status} title={info.detail}>
      <span class="led" />
      {LABELS[info.status]}
      {stale}
    </span>
  );
}
