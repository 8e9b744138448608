// The fleet and robot table, and one robot's details with its current task.

import { useEffect, useState } from "preact/hooks";
import { get, q } from "./api";
import { sendCommand } from "./command";
import type { Live } from "./live";
import { formatBattery, robotColour } from "./MapView";
import { MediaStrip } from "./Media";
import type { Robot, Site } from "./site";
import { robotKey } from "./site";
import { useStore } from "./store";
import type { TaskState } from "./types";

function issues(robot: Robot): string {
  return (robot.state.issues ?? []).map((i) => `${i.category}: ${JSON.stringify(i.detail)}`).join("; ");
}

export function RobotTable({ site, onSelect, onTask }: { site: Site; onSelect: (key: string) => void; onTask: (id: string) => void }) {
  const robots = [...useStore(site.robots).values()].sort(
    (a, b) => a.fleet.localeCompare(b.fleet) || a.name.localeCompare(b.name, undefined, { numeric: true }),
  );
  if (!robots.length) return <p class="muted">No robots have reported yet.</p>;
  return (
    <table class="grid" data-testid="robot-table">
      <thead>
        <tr>
          <th>Fleet</th>
          <th>Robot</th>
          <th>Status</th>
          <th>Link</th>
          <th>Battery</th>
          <th>Task</th>
          <th>Issues</th>
        </tr>
      </thead>
      <tbody>
        {robots.map((robot) => {
          const key = robotKey(robot.fleet, robot.name);
          return (
            <tr key={key} data-robot-row={key} data-link={robot.link} onClick={() => onSelect(key)}>
              <td>{robot.fleet}</td>
              <td>
                <span class="dot" style={{ background: robotColour(robot) }} />
                {robot.name}
              </td>
              <td>{robot.state.status ?? "–"}</td>
              <td class={`link ${robot.link}`}>{robot.reporting ? robot.link : `${robot.link} (silent)`}</td>
              <td>{formatBattery(robot.state.battery)}</td>
              <td>
                {robot.state.task_id ? (
                  <a
                    href="#"
                    onClick={(e) => {
                      e.preventDefault();
                      e.stopPropagation();
                      onTask(robot.state.task_id!);
                    }}
                  >
                    {robot.state.task_id}
                  </a>
                ) : (
                  "–"
                )}
              </td>
              <td>{issues(robot) || "–"}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** What the user may do to VDA 5050 robots: move them (task_submit), or service them (admins).
 * Clearing reservations is offered only for a robot its fleet no longer reports (it vanished). */
export interface RobotRights {
  mayMove: boolean;
  mayService: boolean;
}

function VdaControls({ robot, rights }: { robot: Robot; rights: RobotRights }) {
  const [message, setMessage] = useState("");
  const mark = robot.state.vda5050;
  if (!mark || !(rights.mayMove || rights.mayService)) return null;
  const fleet = q(robot.fleet);
  const name = q(robot.name);
  const send = async (path: string, what: string) => {
    setMessage(`${what}…`);
    setMessage(await sendCommand(path, undefined, what));
  };
  const control = (action: string, what: string) => send(`/fleets/${fleet}/robots/${name}/${action}`, what);
  const inService = robot.state.commission?.dispatch_tasks !== false;
  return (
    <div class="robot-controls" data-testid="robot-controls">
      {rights.mayMove &&
        (mark.paused ? (
          <button onClick={() => control("resume", `resume ${robot.name}`)}>resume</button>
        ) : (
          <button onClick={() => control("pause", `pause ${robot.name}`)}>pause</button>
        ))}
      {rights.mayMove && <button onClick={() => control("charge", `charge ${robot.name}`)}>charge</button>}
      {rights.mayService &&
        (inService ? (
          <button
            onClick={() =>
              send(`/fleets/${fleet}/decommission?robot_name=${name}&reassign_tasks=true&allow_idle_behavior=false`, `take ${robot.name} out of service`)
            }
          >
            out of service
          </button>
        ) : (
          <button onClick={() => send(`/fleets/${fleet}/recommission?robot_name=${name}`, `put ${robot.name} back in service`)}>back in service</button>
        ))}
      {rights.mayService && !robot.reporting && (
        <button class="danger" onClick={() => control("clear_reservations", `clear ${robot.name}'s reservations`)}>
          clear reservations
        </button>
      )}
      {message && <p class="notice">{message}</p>}
    </div>
  );
}

export function RobotDetail({
  live,
  site,
  robotKey: key,
  rights,
  onTask,
  onClose,
}: {
  live: Live;
  site: Site;
  robotKey: string;
  rights: RobotRights;
  onTask: (id: string) => void;
  onClose: () => void;
}) {
  const robot = useStore(site.robots).get(key);
  const taskId = robot?.state.task_id || null;
  const [task, setTask] = useState<TaskState | null>(null);
  useEffect(() => {
    setTask(null);
    if (!taskId) return;
    get<TaskState>(`/tasks/${q(taskId)}/state`).then(
      (answer) => setTask(answer.data),
      () => setTask(null),
    );
  }, [taskId]);
  if (!robot) return null;
  const loc = robot.state.location;
  return (
    <section class="detail" data-testid="robot-detail">
      <header>
        <h3>
          <span class="dot" style={{ background: robotColour(robot) }} /> {robot.name}
        </h3>
        <button class="close" onClick={onClose} aria-label="close">
          ×
        </button>
      </header>
      <dl>
        <dt>Fleet</dt>
        <dd>{robot.fleet}</dd>
        <dt>Status</dt>
        <dd>{robot.state.status ?? "–"}</dd>
        <dt>Link</dt>
        <dd class={`link ${robot.link}`}>{robot.link}</dd>
        <dt>Battery</dt>
        <dd>{formatBattery(robot.state.battery)}</dd>
        <dt>Location</dt>
        <dd>{loc ? `${loc.map} (${loc.x.toFixed(1)}, ${loc.y.toFixed(1)}) ${((loc.yaw * 180) / Math.PI).toFixed(0)}°` : "–"}</dd>
        <dt>Issues</dt>
        <dd>{issues(robot) || "none"}</dd>
        {robot.state.vda5050 && (
          <>
            <dt>Operation</dt>
            <dd data-testid="robot-operation">
              {robot.state.vda5050.paused ? "paused" : "running"}
              {robot.state.commission?.dispatch_tasks === false ? ", out of service" : ", in service"}
            </dd>
          </>
        )}
        <dt>Task</dt>
        <dd>
          {taskId ? (
            <a href="#" onClick={(e) => (e.preventDefault(), onTask(taskId))}>
              {taskId}
            </a>
          ) : (
            "none"
          )}
          {task ? ` — ${task.category ?? ""} ${task.status ?? ""}` : ""}
        </dd>
      </dl>
      <VdaControls robot={robot} rights={rights} />
      <h4>Media</h4>
      <MediaStrip live={live} attachedTo="robot" attachedId={key} />
    </section>
  );
}
