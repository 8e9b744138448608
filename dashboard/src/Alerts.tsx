// Open alerts, newest first, each with its photos and clips and the responses it offers (a
// derived alert: "acknowledge"). An alert about a robot (parameters fleet and robot: stuck,
// offline, in error) also shows what that robot captured around the alert's time.

import { useState } from "preact/hooks";
import { errorText, time } from "./format";
import type { Live } from "./live";
import { type Around, MediaStrip } from "./Media";
import type { Site } from "./site";
import { useStore } from "./store";
import type { AlertRequest } from "./types";

/** How long before and after an alert a robot's photos and clips belong to it: a robot uploads
 * what it saw when it went wrong, which the hub may notice a little later, and uploads take time. */
const BEFORE_MS = 2 * 60_000;
const AFTER_MS = 10 * 60_000;

function robotAround(alert: AlertRequest): Around | undefined {
  const parameter = (name: string) => alert.alert_parameters.find((p) => p.name === name)?.value;
  const fleet = parameter("fleet");
  const robot = parameter("robot");
  if (!fleet || !robot) return undefined;
  return { fleet, robot, from: alert.unix_millis_alert_time - BEFORE_MS, to: alert.unix_millis_alert_time + AFTER_MS };
}

export function Alerts({ live, site, mayRespond }: { live: Live; site: Site; mayRespond: boolean }) {
  const alerts = [...useStore(site.alerts).values()].sort((a, b) => b.unix_millis_alert_time - a.unix_millis_alert_time);
  const [error, setError] = useState("");
  if (!alerts.length) return <p class="muted" data-testid="alerts">No open alerts.</p>;
  const respond = (id: string, response: string) =>
    site.respond(id, response).then(
      () => setError(""),
      (err) => setError(errorText(err)),
    );
  return (
    <section data-testid="alerts">
      {error && <p class="error">{error}</p>}
      <ul class="alerts">
        {alerts.map((alert) => (
          <li key={alert.id} class={`alert tier-${alert.tier}`} data-alert={alert.id}>
            <div class="title">
              <strong>{alert.title}</strong> <span class="muted">{alert.subtitle}</span>
              <time>{time(alert.unix_millis_alert_time)}</time>
            </div>
            <p>{alert.message}</p>
            <MediaStrip live={live} attachedTo="alert" attachedId={alert.id} around={robotAround(alert)} />
            {mayRespond &&
              alert.responses_available.map((response) => (
                <button key={response} onClick={() => void respond(alert.id, response)}>
                  {response}
                </button>
              ))}
          </li>
        ))}
      </ul>
    </section>
  );
}
