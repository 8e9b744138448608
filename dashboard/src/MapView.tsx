// The building map in SVG: lanes, places, doors, lifts, and robots gliding between updates.
//
// Robots are moved by a requestAnimationFrame loop that writes their transforms directly, so a
// fleet update re-renders nothing: each robot glides from where it was drawn to its new pose over
// about the time between two updates. Pinch (or the wheel) zooms and a drag pans; the ⤢
// button brings the whole level back.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { type Box, usePanZoom } from "./panzoom";
import type { Robot, Site } from "./site";
import { robotKey } from "./site";
import { useStore } from "./store";
import type { BuildingMap, Level } from "./types";

const MARGIN_M = 4;
const GLIDE_MIN_MS = 100;
const GLIDE_MAX_MS = 1500;

interface Pose {
  x: number;
  y: number;
  yaw: number;
}
interface Glide {
  from: Pose;
  to: Pose;
  start: number;
  duration: number;
}

export const STATUS_COLOURS: Record<string, string> = {
  idle: "#6b7f99",
  working: "#2e9e5b",
  charging: "#2b7bd6",
  error: "#d64040",
  offline: "#555",
  uninitialized: "#999",
  shutdown: "#555",
};

export function robotColour(robot: Robot): string {
  if (robot.link === "offline") return STATUS_COLOURS.offline;
  return STATUS_COLOURS[robot.state.status ?? ""] ?? "#999";
}

function bounds(map: BuildingMap, level: Level): Box {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const graph of level.nav_graphs) {
    for (const v of graph.vertices) {
      xs.push(v.x);
      ys.push(v.y);
    }
  }
  for (const lift of map.lifts) {
    xs.push(lift.ref_x);
    ys.push(lift.ref_y);
  }
  if (!xs.length) return [-10, -10, 20, 20];
  const [x0, x1] = [Math.min(...xs) - MARGIN_M, Math.max(...xs) + MARGIN_M];
  const [y0, y1] = [Math.min(...ys) - MARGIN_M, Math.max(...ys) + MARGIN_M];
  return [x0, -y1, x1 - x0, y1 - y0];
}

function lerpAngle(a: number, b: number, t: number): number {
  let d = b - a;
  while (d > Math.PI) d -= 2 * Math.PI;
  while (d < -Math.PI) d += 2 * Math.PI;
  return a + d * t;
}

function poseAt(glide: Glide, now: number): Pose {
  const t = Math.min(1, (now - glide.start) / glide.duration);
  return {
    x: glide.from.x + (glide.to.x - glide.from.x) * t,
    y: glide.from.y + (glide.to.y - glide.from.y) * t,
    yaw: lerpAngle(glide.from.yaw, glide.to.yaw, t),
  };
}

/** Move the robot's group and turn only its body, so its label stays upright. */
function place(node: SVGGElement, p: Pose): void {
  node.setAttribute("transform", `translate(${p.x.toFixed(3)} ${(-p.y).toFixed(3)})`);
  node.firstElementChild?.setAttribute("transform", `rotate(${((-p.yaw * 180) / Math.PI).toFixed(1)})`);
}

export function MapView({ site, selected, onSelect }: { site: Site; selected: string | null; onSelect: (key: string) => void }) {
  const map = useStore(site.map);
  const robots = useStore(site.robots);
  const doors = useStore(site.doors);
  const lifts = useStore(site.lifts);
  const [levelName, setLevelName] = useState<string | null>(null);
  const glides = useRef(new Map<string, Glide>());
  const nodes = useRef(new Map<string, SVGGElement>());
  const level = map?.levels.find((l) => l.name === levelName) ?? map?.levels[0] ?? null;

  useEffect(() => {
    const now = performance.now();
    for (const [key, robot] of robots) {
      const loc = robot.state.location;
      if (!loc) continue;
      const to = { x: loc.x, y: loc.y, yaw: loc.yaw };
      const glide = glides.current.get(key);
      if (!glide) {
        glides.current.set(key, { from: to, to, start: now, duration: GLIDE_MIN_MS });
        continue;
      }
      if (glide.to.x === to.x && glide.to.y === to.y && glide.to.yaw === to.yaw) continue;
      const elapsed = now - glide.start;
      glides.current.set(key, {
        from: poseAt(glide, now),
        to,
        start: now,
        duration: Math.min(GLIDE_MAX_MS, Math.max(GLIDE_MIN_MS, elapsed)),
      });
    }
  }, [robots]);

  useEffect(() => {
    let frame = 0;
    const draw = () => {
      const now = performance.now();
      for (const [key, node] of nodes.current) {
        const glide = glides.current.get(key);
        if (glide) place(node, poseAt(glide, now));
      }
      frame = requestAnimationFrame(draw);
    };
    frame = requestAnimationFrame(draw);
    return () => cancelAnimationFrame(frame);
  }, []);

  const whole = useMemo((): Box => (map && level ? bounds(map, level) : [0, 0, 1, 1]), [map, level]);
  const panZoom = usePanZoom(whole);
  if (!map || !level) return <div class="map empty">Waiting for the building map…</div>;

  const onLevel = [...robots.values()].filter((r) => r.state.location?.map === level.name);
  return (
    <div class="map" data-testid="map">
      <div class="levels">
        {map.levels.map((l) => (
          <button
            key={l.name}
            class={l.name === level.name ? "active" : ""}
            onClick={() => setLevelName(l.name)}
          >
            {l.name} ({[...robots.values()].filter((r) => r.state.location?.map === l.name).length})
          </button>
        ))}
        <button class="zoom-reset" onClick={panZoom.reset} aria-label="show the whole level">
          ⤢
        </button>
        <span class="map-name">{map.name}</span>
      </div>
      <svg ref={panZoom.ref} preserveAspectRatio="xMidYMid meet" data-testid="map-svg">
        {level.nav_graphs.map((graph, g) => (
          <g key={g} class="lanes">
            {graph.edges.map((e, i) => {
              const a = graph.vertices[e.v1_idx];
              const b = graph.vertices[e.v2_idx];
              return a && b ? <line key={i} x1={a.x} y1={-a.y} x2={b.x} y2={-b.y} /> : null;
            })}
          </g>
        ))}
        <g class="places">
          {level.places.map((p) => (
            <g key={p.name}>
              <circle cx={p.x} cy={-p.y} r={0.35} />
              <text x={p.x + 0.5} y={-p.y - 0.5}>
                {p.name}
              </text>
            </g>
          ))}
        </g>
        <g class="doors">
          {level.doors.map((d) => {
            const mode = doors.get(d.name)?.current_mode.value;
            return (
              <line
                key={d.name}
                class={`door mode-${mode ?? "unknown"}`}
                data-door={d.name}
                x1={d.v1_x}
                y1={-d.v1_y}
                x2={d.v2_x}
                y2={-d.v2_y}
              >
                <title>{`${d.name}: ${doorModeName(mode)}`}</title>
              </line>
            );
          })}
        </g>
        <g class="lifts">
          {map.lifts.map((lift) => {
            const state = lifts.get(lift.name);
            const here = state?.current_floor === level.name;
            return (
              <g key={lift.name} data-lift={lift.name} class={here ? "lift here" : "lift"}>
                <rect
                  x={lift.ref_x - lift.width / 2}
                  y={-lift.ref_y - lift.depth / 2}
                  width={lift.width}
                  height={lift.depth}
                />
                <text x={lift.ref_x - lift.width / 2} y={-lift.ref_y + lift.depth / 2 + 0.9}>
                  {lift.name} {state ? `@${state.current_floor}` : ""}
                </text>
              </g>
            );
          })}
        </g>
        <g class="robots">
          {onLevel.map((robot) => {
            const key = robotKey(robot.fleet, robot.name);
            const battery = robot.state.battery;
            return (
              <g
                key={key}
                class={`robot${key === selected ? " selected" : ""}${robot.reporting ? "" : " silent"}`}
                data-robot={key}
                data-status={robot.state.status ?? ""}
                data-link={robot.link}
                onClick={() => onSelect(key)}
                ref={(node) => {
                  const glide = glides.current.get(key);
                  if (node && glide) place(node, poseAt(glide, performance.now()));
                  if (node) nodes.current.set(key, node);
                  else nodes.current.delete(key);
                }}
              >
                <g class="body">
                  <circle r={0.7} fill={robotColour(robot)} />
                  <path d="M0.2,-0.35 L0.75,0 L0.2,0.35 Z" class="heading" />
                </g>
                <text class="robot-label" x={-0.9} y={1.6}>
                  {robot.name} {formatBattery(battery)}
                </text>
                <title>{`${robot.name} (${robot.fleet}): ${robot.state.status ?? "?"}, battery ${formatBattery(battery)}, ${robot.link}`}</title>
              </g>
            );
          })}
        </g>
      </svg>
    </div>
  );
}

export function formatBattery(battery: number | null | undefined): string {
  return battery === null || battery === undefined ? "–" : `${Math.round(battery * 100)}%`;
}

export function doorModeName(mode: number | undefined): string {
  return ["closed", "moving", "open", "offline", "unknown"][mode ?? 4] ?? "unknown";
}
