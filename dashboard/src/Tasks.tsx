// The task list (filters, pages, rows kept live by their rooms) and a task's detail with its log.

import { useEffect, useMemo, useState } from "preact/hooks";
import { ApiError, get, post, q, type Position } from "./api";
import { errorText, time } from "./format";
import type { Live } from "./live";
import { MediaStrip } from "./Media";
import type { Site } from "./site";
import { useStore } from "./store";
import type { LogEntry, TaskLog, TaskState } from "./types";

const PAGE_SIZE = 15;
const STATUSES = ["queued", "standby", "underway", "completed", "failed", "canceled", "killed"];
const CATEGORIES = ["patrol", "delivery", "clean"];
const TERMINAL = new Set(["completed", "failed", "canceled", "killed"]);
const REFRESH_MS = 10000;

interface Filters {
  status: string;
  category: string;
  robot: string;
}

export function TaskList({ live, site, onOpen }: { live: Live; site: Site; onOpen: (id: string) => void }) {
  const [filters, setFilters] = useState<Filters>({ status: "", category: "", robot: "" });
  const [page, setPage] = useState(0);
  // The last task of each page before this one: pages are keyset pages, as fast deep in a
  // year of tasks as at its start, and they stay put while new tasks arrive.
  const [cursors, setCursors] = useState<string[]>([]);
  const [tasks, setTasks] = useState<TaskState[]>([]);
  const [error, setError] = useState("");
  const [tick, setTick] = useState(0);
  const robots = useStore(site.robots);

  // A robot starting a task the page has not listed yet brings the list up to date.
  const running = useMemo(
    () => [...robots.values()].map((r) => r.state.task_id).filter(Boolean).sort().join(","),
    [robots],
  );

  useEffect(() => {
    const timer = setInterval(() => setTick((t) => t + 1), REFRESH_MS);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    const params = new URLSearchParams({
      limit: String(PAGE_SIZE),
      order_by: "-unix_millis_request_time",
    });
    if (page > 0) params.set("after", cursors[page - 1]);
    if (filters.status) params.set("status", filters.status);
    if (filters.category) params.set("category", filters.category);
    if (filters.robot) params.set("assigned_to", filters.robot);
    let current = true;
    const leave: (() => void)[] = [];
    get<TaskState[]>(`/tasks?${params}`).then(
      ({ data, position }) => {
        if (!current) return;
        setError("");
        setTasks(data);
        const replace = (update: unknown) => {
          const next = update as TaskState;
          setTasks((list) => list.map((t) => (t.booking.id === next.booking.id ? next : t)));
        };
        for (const task of data) {
          if (TERMINAL.has(task.status ?? "")) continue;
          leave.push(live.subscribe(`/tasks/${q(task.booking.id)}/state`, replace, position));
        }
      },
      (err) => current && setError(errorText(err)),
    );
    return () => {
      current = false;
      leave.forEach((go) => go());
    };
  }, [live, filters, page, tick, page === 0 ? running : ""]);

  const set = (change: Partial<Filters>) => {
    setFilters({ ...filters, ...change });
    setPage(0);
  };
  return (
    <section data-testid="task-list">
      <div class="filters">
        <select value={filters.status} onChange={(e) => set({ status: e.currentTarget.value })} aria-label="status">
          <option value="">any status</option>
          {STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select value={filters.category} onChange={(e) => set({ category: e.currentTarget.value })} aria-label="category">
          <option value="">any category</option>
          {CATEGORIES.map((c) => (
            <option key={c}>{c}</option>
          ))}
        </select>
        <input
          placeholder="robot"
          value={filters.robot}
          onChange={(e) => set({ robot: e.currentTarget.value.trim() })}
          aria-label="robot"
        />
      </div>
      {error && <p class="error">{error}</p>}
      <table class="grid">
        <thead>
          <tr>
            <th>Task</th>
            <th>Category</th>
            <th>Robot</th>
            <th>Status</th>
            <th>Requested</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((task) => (
            <tr key={task.booking.id} data-task-row={task.booking.id} onClick={() => onOpen(task.booking.id)}>
              <td class="id">{task.booking.id}</td>
              <td>{task.category ?? "–"}</td>
              <td>{task.assigned_to ? `${task.assigned_to.name}` : "–"}</td>
              <td class={`status ${task.status}`}>{task.status}</td>
              <td>{time(task.booking.unix_millis_request_time)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div class="pager">
        <button disabled={page === 0} onClick={() => setPage(page - 1)}>
          ‹ newer
        </button>
        <span>page {page + 1}</span>
        <button
          disabled={tasks.length < PAGE_SIZE}
          onClick={() => {
            setCursors([...cursors.slice(0, page), tasks[tasks.length - 1].booking.id]);
            setPage(page + 1);
          }}
        >
          older ›
        </button>
      </div>
    </section>
  );
}

function mergeLog(log: LogEntry[], update: TaskLog): LogEntry[] {
  const entries = [...log];
  const add = (items: LogEntry[] | null | undefined, where: string) =>
    (items ?? []).forEach((entry) => entries.push({ ...entry, text: where ? `${where}: ${entry.text}` : entry.text }));
  add(update.log, "");
  for (const [phase, body] of Object.entries(update.phases ?? {})) {
    add(body.log, `phase ${phase}`);
    for (const [event, items] of Object.entries(body.events ?? {})) add(items, `phase ${phase} event ${event}`);
  }
  return entries.sort((a, b) => a.unix_millis_time - b.unix_millis_time);
}

export function TaskDetail({ live, taskId, mayCancel, onClose }: { live: Live; taskId: string; mayCancel: boolean; onClose: () => void }) {
  const [task, setTask] = useState<TaskState | null>(null);
  const [log, setLog] = useState<LogEntry[]>([]);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    setTask(null);
    setLog([]);
    setError("");
    const leave: (() => void)[] = [];
    const loadLog = async () => {
      const answer = await get<TaskLog>(`/tasks/${q(taskId)}/log?between=0,${Date.now() + 86_400_000}`);
      setLog(mergeLog([], answer.data));
      return answer.position;
    };
    let current = true;
    get<TaskState>(`/tasks/${q(taskId)}/state`).then(
      ({ data, position }) => {
        if (!current) return;
        setTask(data);
        leave.push(live.subscribe(`/tasks/${q(taskId)}/state`, (d) => setTask(d as TaskState), position));
      },
      (err) => {
        if (!current) return;
        // A task dispatched a moment ago may not be published yet: its room brings it.
        if (err instanceof ApiError && err.status === 404) {
          leave.push(live.subscribe(`/tasks/${q(taskId)}/state`, (d) => setTask(d as TaskState)));
        } else setError(errorText(err));
      },
    );
    const onLog = (data: unknown) => setLog((l) => mergeLog(l, data as TaskLog));
    const followLog = (position: Position) =>
      current && leave.push(live.subscribe(`/tasks/${q(taskId)}/log`, onLog, position, loadLog));
    loadLog().then(followLog, (err) => {
      // No log yet: replay the room from its start instead.
      if (err instanceof ApiError && err.status === 404) followLog({ seq: 0, epoch: null });
      else if (current) setError(errorText(err));
    });
    return () => {
      current = false;
      leave.forEach((go) => go());
    };
  }, [live, taskId]);

  const cancel = async () => {
    setBusy(true);
    try {
      const answer = await post<{ success?: boolean; errors?: { detail?: string }[] }>("/tasks/cancel_task", {
        type: "cancel_task_request",
        task_id: taskId,
      });
      if (answer.data?.success === false) setError((answer.data.errors ?? []).map((e) => e.detail).join("; ") || "refused");
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const phases = Object.values(task?.phases ?? {}).sort((a, b) => a.id - b.id);
  return (
    <section class="detail" data-testid="task-detail" data-task={taskId}>
      <header>
        <h3>{taskId}</h3>
        <button class="close" onClick={onClose} aria-label="close">
          ×
        </button>
      </header>
      {error && <p class="error">{error}</p>}
      {!task ? (
        <p class="muted">Loading…</p>
      ) : (
        <>
          <dl>
            <dt>Status</dt>
            <dd class={`status ${task.status}`} data-testid="task-status">
              {task.status}
            </dd>
            <dt>Category</dt>
            <dd>{task.category ?? "–"}</dd>
            <dt>Robot</dt>
            <dd>{task.assigned_to ? `${task.assigned_to.name} (${task.assigned_to.group})` : "not assigned"}</dd>
            <dt>Requested</dt>
            <dd>
              {time(task.booking.unix_millis_request_time)} {task.booking.requester ? `by ${task.booking.requester}` : ""}
            </dd>
            <dt>Started</dt>
            <dd>{time(task.unix_millis_start_time)}</dd>
            <dt>Finished</dt>
            <dd>{time(task.unix_millis_finish_time)}</dd>
          </dl>
          {mayCancel && !TERMINAL.has(task.status ?? "") && (
            <button class="danger" disabled={busy} onClick={cancel}>
              Cancel task
            </button>
          )}
          <h4>Phases</h4>
          <ol class="phases">
            {phases.map((phase) => (
              <li key={phase.id} class={phase.id === task.active ? "active" : ""}>
                <strong>{phase.category ?? `phase ${phase.id}`}</strong>
                <ul>
                  {Object.values(phase.events ?? {})
                    .filter((e) => e.id !== 0)
                    .map((e) => (
                      <li key={e.id} class={`status ${e.status}`}>
                        {e.name} — {e.status}
                      </li>
                    ))}
                </ul>
              </li>
            ))}
          </ol>
        </>
      )}
      <h4>Media</h4>
      <MediaStrip live={live} attachedTo="task" attachedId={taskId} />
      <h4>Log</h4>
      <ol class="log" data-testid="task-log">
        {log.map((entry, i) => (
          <li key={i} class={`tier-${entry.tier}`}>
            <time>{time(entry.unix_millis_time)}</time> {entry.text}
          </li>
        ))}
      </ol>
    </section>
  );
}
