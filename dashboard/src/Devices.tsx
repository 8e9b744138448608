// Doors and lifts with their states, and controls for users allowed them.

import { useState } from "preact/hooks";
import { q } from "./api";
import { sendCommand } from "./command";
import { doorModeName } from "./MapView";
import type { Site } from "./site";
import { useStore } from "./store";

const DOOR_CLOSED = 0;
const DOOR_OPEN = 2;
const LIFT_END_SESSION = 0;
const LIFT_HUMAN_MODE = 2;

export function Devices({ site, mayDoor, mayLift }: { site: Site; mayDoor: boolean; mayLift: boolean }) {
  const map = useStore(site.map);
  const doors = useStore(site.doors);
  const lifts = useStore(site.lifts);
  const [message, setMessage] = useState("");

  const send = async (path: string, body: unknown, what: string) => {
    setMessage(`${what}…`);
    setMessage(await sendCommand(path, body, what));
  };

  const doorNames = (map?.levels ?? []).flatMap((level) => level.doors.map((d) => ({ level: level.name, name: d.name })));
  return (
    <section data-testid="devices">
      {message && <p class="notice">{message}</p>}
      <h4>Doors</h4>
      <table class="grid">
        <tbody>
          {doorNames.map(({ level, name }) => (
            <tr key={name} data-door-row={name}>
              <td>{name}</td>
              <td>{level}</td>
              <td class={`door-mode mode-${doors.get(name)?.current_mode.value ?? 4}`}>{doorModeName(doors.get(name)?.current_mode.value)}</td>
              {mayDoor && (
                <td>
                  <button onClick={() => send(`/doors/${q(name)}/request`, { mode: DOOR_OPEN }, `open ${name}`)}>open</button>
                  <button onClick={() => send(`/doors/${q(name)}/request`, { mode: DOOR_CLOSED }, `close ${name}`)}>close</button>
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      <h4>Lifts</h4>
      <table class="grid">
        <tbody>
          {(map?.lifts ?? []).map((lift) => {
            const state = lifts.get(lift.name);
            return (
              <tr key={lift.name} data-lift-row={lift.name}>
                <td>{lift.name}</td>
                <td>
                  {state ? `at ${state.current_floor || "?"}${state.destination_floor && state.destination_floor !== state.current_floor ? ` → ${state.destination_floor}` : ""}` : "no state yet"}
                </td>
                {mayLift && (
                  <td>
                    {lift.levels.map((level) => (
                      <button
                        key={level}
                        onClick={() =>
                          send(
                            `/lifts/${q(lift.name)}/request`,
                            { request_type: LIFT_HUMAN_MODE, door_mode: DOOR_OPEN, destination: level },
                            `${lift.name} to ${level}`,
                          )
                        }
                      >
                        {level}
                      </button>
                    ))}
                    <button
                      onClick={() =>
                        send(
                          `/lifts/${q(lift.name)}/request`,
                          { request_type: LIFT_END_SESSION, door_mode: DOOR_CLOSED, destination: state?.current_floor || lift.levels[0] },
                          `release ${lift.name}`,
                        )
                      }
                    >
                      release
                    </button>
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
