// The page: login, then the live map beside tabs of robots, tasks, submit, alerts and devices.
//
// On a phone the map sits above the tabs, and the tabs collapse behind a menu button that names
// the open one: five tabs do not fit 375 px side by side with touch-sized targets.

import { useEffect, useMemo, useState } from "preact/hooks";
import { onUnauthorized } from "./api";
import { Alerts } from "./Alerts";
import { ConnectionBadge } from "./Connection";
import { Devices } from "./Devices";
import { errorText } from "./format";
import { Live } from "./live";
import { Login } from "./Login";
import { MapView } from "./MapView";
import { RobotDetail, RobotTable } from "./Robots";
import { currentUser, logout, may, type User } from "./session";
import { Site } from "./site";
import { useStore } from "./store";
import { SubmitTask } from "./Submit";
import { TaskDetail, TaskList } from "./Tasks";

type Tab = "robots" | "tasks" | "submit" | "alerts" | "devices";

export function App() {
  const [user, setUser] = useState<User | null | undefined>(undefined);
  const [error, setError] = useState("");
  const refresh = () =>
    currentUser().then(
      (u) => {
        setError("");
        setUser(u);
      },
      (err) => setError(errorText(err)),
    );
  useEffect(() => void refresh(), []);
  if (error) return <p class="error page">fleethub is unreachable: {error}</p>;
  if (user === undefined) return <p class="muted page">Loading…</p>;
  if (user === null) return <Login title="Log in to fleethub" onLoggedIn={() => void refresh()} />;
  return <Dashboard user={user} />;
}

function Dashboard({ user }: { user: User }) {
  const live = useMemo(() => new Live(), []);
  const site = useMemo(() => new Site(live), [live]);
  const [tab, setTab] = useState<Tab>("robots");
  const [robot, setRobot] = useState<string | null>(null);
  const [task, setTask] = useState<string | null>(null);
  const [menuOpen, setMenuOpen] = useState(false);
  const [relogin, setRelogin] = useState(false);
  const [error, setError] = useState("");
  const expired = useStore(live.tokenExpired);
  const alertCount = useStore(site.alerts).size;

  useEffect(() => {
    live.start();
    site.start().catch((err) => setError(errorText(err)));
    const off = onUnauthorized(() => setRelogin(true));
    return () => {
      off();
      site.stop();
      live.stop();
    };
  }, [live, site]);

  const openTask = (id: string) => {
    setTask(id);
    setRobot(null);
  };
  const tabs: [Tab, string][] = [
    ["robots", "Robots"],
    ["tasks", "Tasks"],
    ["submit", "Submit"],
    ["alerts", `Alerts${alertCount ? ` (${alertCount})` : ""}`],
    ["devices", "Doors & lifts"],
  ];
  return (
    <div class="app">
      <header class="top">
        <h1>fleethub</h1>
        <ConnectionBadge live={live} />
        <span class="user" data-testid="user">
          {user.authOff ? "auth off" : user.username}
          {!user.authOff && (
            <button class="link" onClick={logout}>
              log out
            </button>
          )}
        </span>
      </header>
      {error && <p class="error">{error}</p>}
      <main>
        <MapView site={site} selected={robot} onSelect={(key) => (setRobot(key), setTask(null))} />
        <aside>
          {robot && (
            <RobotDetail
              live={live}
              site={site}
              robotKey={robot}
              rights={{ mayMove: may(user, "task_submit"), mayService: user.isAdmin }}
              onTask={openTask}
              onClose={() => setRobot(null)}
            />
          )}
          {task && <TaskDetail live={live} taskId={task} mayCancel={may(user, "task_cancel")} onClose={() => setTask(null)} />}
          <nav class={menuOpen ? "tabs open" : "tabs"} data-testid="tabs">
            <button
              class="menu"
              aria-expanded={menuOpen}
              aria-controls="tab-list"
              data-testid="menu"
              onClick={() => setMenuOpen(!menuOpen)}
            >
              ☰ {tabs.find(([name]) => name === tab)?.[1]}
            </button>
            <div id="tab-list" class="tab-list">
              {tabs.map(([name, label]) => (
                <button
                  key={name}
                  class={tab === name ? "active" : ""}
                  data-tab={name}
                  onClick={() => (setTab(name), setMenuOpen(false))}
                >
                  {label}
                </button>
              ))}
            </div>
          </nav>
          <div class="panel">
            {tab === "robots" && <RobotTable site={site} onSelect={setRobot} onTask={openTask} />}
            {tab === "tasks" && <TaskList live={live} site={site} onOpen={openTask} />}
            {tab === "submit" &&
              (may(user, "task_submit") ? (
                <SubmitTask site={site} requester={user.username} onSubmitted={openTask} />
              ) : (
                <p class="muted">You may not submit tasks.</p>
              ))}
            {tab === "alerts" && <Alerts live={live} site={site} mayRespond={may(user, "alert_respond")} />}
            {tab === "devices" && <Devices site={site} mayDoor={may(user, "door_control")} mayLift={may(user, "lift_control")} />}
          </div>
        </aside>
      </main>
      {(relogin || expired) && !user.authOff && (
        <div class="overlay">
          <Login
            title="Your session expired: log in again"
            onLoggedIn={(token) => {
              live.refreshToken(token);
              setRelogin(false);
            }}
          />
        </div>
      )}
    </div>
  );
}
