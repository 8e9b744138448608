// Open alerts, newest first, each with its photos and clips and the responses it offers (a
// derived alert: "acknowledge").

import { useState } from "preact/hooks";
import { errorText, time } from "./format";
import type { Live } from "./live";
import { MediaStrip } from "./Media";
import type { Site } from "./site";
import { useStore } from "./store";

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
            <MediaStrip live={live} attachedTo="alert" attachedId={alert.id} />
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
