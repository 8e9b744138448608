// The form that submits patrol, delivery and clean tasks, its choices taken from the map's places.

import { useMemo, useState } from "preact/hooks";
import { post } from "./api";
import { errorText } from "./format";
import type { Site } from "./site";
import { useStore } from "./store";
import type { BuildingMap, TaskState } from "./types";

type Category = "patrol" | "delivery" | "clean";

interface Places {
  all: string[];
  pickups: string[];
  dropoffs: string[];
}

/** Named places, and those with a dispenser (pick-up) or an ingestor (drop-off). */
function placesOf(map: BuildingMap | null): Places {
  const all = new Set<string>();
  const pickups = new Set<string>();
  const dropoffs = new Set<string>();
  for (const level of map?.levels ?? []) {
    level.places.forEach((p) => all.add(p.name));
    for (const graph of level.nav_graphs) {
      for (const v of graph.vertices) {
        if (!v.name) continue;
        if (v.params.some((p) => p.name === "pickup_dispenser")) pickups.add(v.name);
        if (v.params.some((p) => p.name === "dropoff_ingestor")) dropoffs.add(v.name);
      }
    }
  }
  const sorted = (s: Set<string>) => [...s].sort();
  return { all: sorted(all), pickups: sorted(pickups), dropoffs: sorted(dropoffs) };
}

interface DispatchAnswer {
  success?: boolean;
  state?: TaskState;
  errors?: { detail?: string }[];
  command?: string;
}

export function SubmitTask({ site, requester, onSubmitted }: { site: Site; requester: string; onSubmitted: (taskId: string) => void }) {
  const map = useStore(site.map);
  const places = useMemo(() => placesOf(map), [map]);
  const [category, setCategory] = useState<Category>("delivery");
  const [patrol, setPatrol] = useState<string[]>([]);
  const [rounds, setRounds] = useState(1);
  const [pickup, setPickup] = useState("");
  const [dropoff, setDropoff] = useState("");
  const [zone, setZone] = useState("");
  const [message, setMessage] = useState("");
  const [busy, setBusy] = useState(false);

  const description = (): unknown => {
    if (category === "patrol") return { places: patrol, rounds };
    if (category === "clean") return { zone: zone || places.all[0] };
    return {
      pickup: { place: pickup || places.pickups[0], payload: [] },
      dropoff: { place: dropoff || places.dropoffs[0], payload: [] },
    };
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setMessage("");
    try {
      const answer = await post<DispatchAnswer>("/tasks/dispatch_task", {
        type: "dispatch_task_request",
        request: {
          category,
          description: description(),
          requester,
          unix_millis_request_time: Date.now(),
        },
      });
      const id = answer.data.state?.booking.id;
      if (id) onSubmitted(id);
      else setMessage(answer.status === 202 ? `accepted; waiting for RMF (command ${answer.data.command})` : "no task id in the answer");
    } catch (err) {
      setMessage(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="submit" onSubmit={submit} data-testid="submit-task">
      <label>
        Category
        <select name="category" value={category} onChange={(e) => setCategory(e.currentTarget.value as Category)}>
          <option value="delivery">delivery</option>
          <option value="patrol">patrol</option>
          <option value="clean">clean</option>
        </select>
      </label>
      {category === "delivery" && (
        <>
          <label>
            Pick up at
            <select name="pickup" value={pickup} onChange={(e) => setPickup(e.currentTarget.value)}>
              {places.pickups.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </label>
          <label>
            Drop off at
            <select name="dropoff" value={dropoff} onChange={(e) => setDropoff(e.currentTarget.value)}>
              {places.dropoffs.map((p) => (
                <option key={p}>{p}</option>
              ))}
            </select>
          </label>
        </>
      )}
      {category === "patrol" && (
        <>
          <label>
            Places (in order)
            <select
              name="places"
              multiple
              size={6}
              onChange={(e) => setPatrol([...e.currentTarget.selectedOptions].map((o) => o.value))}
            >
              {places.all.map((p) => (
                <option key={p} selected={patrol.includes(p)}>
                  {p}
                </option>
              ))}
            </select>
          </label>
          <label>
            Rounds
            <input type="number" min={1} max={100} value={rounds} onChange={(e) => setRounds(Number(e.currentTarget.value))} />
          </label>
        </>
      )}
      {category === "clean" && (
        <label>
          Zone
          <select name="zone" value={zone} onChange={(e) => setZone(e.currentTarget.value)}>
            {places.all.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
      )}
      <button type="submit" disabled={busy || (category === "patrol" && !patrol.length)}>
        Submit {category}
      </button>
      {message && <p class="error">{message}</p>}
    </form>
  );
}
