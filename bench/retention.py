"""History that doesn't eat the disk: database growth per robot-day and the cost of pruning.

Runs N simulated robots (default 200) for a simulated period (default a
day) at accelerated time: ``simulator.Simulation.step`` is driven directly
and everything it publishes goes through the hub's store path (ingest
validation, ``hub.changes``, the Deriver, the batched Writer committing to
SQLite with its outbox), with the hub clock set to the simulated time.

The baseline, in the same run and from the same messages, is the naive
store-every-update history rmf-web keeps: one row per robot per fleet
state (plus every task state and log entry), in a second SQLite file with
plain ``executemany`` (the cheapest way to store it, so the comparison
flatters the baseline).

Then both are pruned to a retention window (``--keep-hours``, default 12)
and the cost is reported: rows deleted, seconds, and the longest single
delete batch (how long ingest could be held up).

Reproduce: .venv/bin/python bench/retention.py --robots 200 --hours 24
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from fleetcore.bus.memory import InMemoryBus
from fleetcore.contract.envelope import StreamPosition
from fleetcore.contract.ingest import IngestLimits, IngestType, decode, encode
from fleetcore.settings import Settings
from fleetcore.store import models
from fleetcore.store.db import close_database, open_database
from hub.changes import changes_for
from hub.derive import DeriveConfig, Deriver
from hub.derive.publish import change_for, merge
from hub.retention import Retention
from hub.writer import Writer
from simulator.simulation import SimConfig, Simulation

HISTORY_TABLES = (
    "robot_position_sample",
    "derived_event",
    "task_state_history",
    "task_log_entry",
    "fleet_log_entry",
    "alert_request",
    "alert_resolution",
)


def naive_schema(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE robot_state_history (
            id INTEGER PRIMARY KEY, fleet TEXT, robot TEXT, time_ms INTEGER, data TEXT);
        CREATE INDEX robot_state_history_time ON robot_state_history (time_ms);
        CREATE TABLE task_state_history (
            id INTEGER PRIMARY KEY, task_id TEXT, time_ms INTEGER, data TEXT);
        CREATE INDEX task_state_history_time ON task_state_history (time_ms);
        CREATE TABLE log_entry (id INTEGER PRIMARY KEY, time_ms INTEGER, data TEXT);
        CREATE INDEX log_entry_time ON log_entry (time_ms);
        """
    )


def naive_store(db: sqlite3.Connection, kind: IngestType, data: dict[str, Any], now: int) -> int:
    if kind is IngestType.FLEET_STATE:
        rows = [
            (data["name"], name, now, orjson.dumps(state).decode())
            for name, state in data["robots"].items()
        ]
        db.executemany(
            "INSERT INTO robot_state_history (fleet, robot, time_ms, data) VALUES (?,?,?,?)", rows
        )
        return len(rows)
    if kind is IngestType.TASK_STATE:
        db.execute(
            "INSERT INTO task_state_history (task_id, time_ms, data) VALUES (?,?,?)",
            (data["booking"]["id"], now, orjson.dumps(data).decode()),
        )
        return 1
    entries = data.get("log") or []
    for group in (data.get("robots") or data.get("phases") or {}).values():
        entries += group if isinstance(group, list) else (group.get("log") or [])
    db.executemany(
        "INSERT INTO log_entry (time_ms, data) VALUES (?,?)",
        [(now, orjson.dumps(e).decode()) for e in entries],
    )
    return len(entries)


def sizes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="fleethub-retention-"))
    hub_db, naive_db = workdir / "hub.sqlite3", workdir / "naive.sqlite3"
    await open_database(f"sqlite://{hub_db}", apply_migrations=True)
    settings = Settings(
        retention_positions_days=args.keep_hours / 24,
        retention_logs_days=args.keep_hours / 24,
        retention_events_days=args.keep_hours / 24,
        retention_task_history_days=args.keep_hours / 24,
        retention_alerts_days=args.keep_hours / 24,
    )
    naive = sqlite3.connect(naive_db)
    naive.execute("PRAGMA journal_mode=WAL")
    naive_schema(naive)
    sim = Simulation(
        SimConfig(
            robots=args.robots,
            fleets=args.fleets,
            auto_tasks_s=args.task_every_s,
            task_failure_probability=0.05,
        ),
        start_ms=1_700_000_000_000,
    )
    limits = IngestLimits()
    deriver = Deriver(DeriveConfig.from_settings(settings))
    writer = Writer(InMemoryBus(), StreamPosition(0, 1))
    await models.HubMeta.create(key="seq", value=0)
    await models.HubMeta.create(key="epoch", value=1)
    writer_task = asyncio.create_task(writer.run())
    steps = round(args.hours * 3600 / args.step_s)
    naive_rows = hub_time = naive_time = 0.0
    messages = 0
    started = time.perf_counter()
    for step in range(steps):
        sim.step(args.step_s)
        now = sim.now_ms
        out = sim.drain() + [(IngestType.FLEET_STATE, s) for s in sim.fleet_states()]
        t0 = time.perf_counter()
        for kind, data in out:
            if kind not in (
                IngestType.FLEET_STATE,
                IngestType.TASK_STATE,
                IngestType.TASK_LOG,
                IngestType.FLEET_LOG,
            ):
                continue
            message = decode(encode(kind, data), limits)
            change = changes_for(message, now)
            merge(change, change_for(deriver.observe(message, now), now))
            await writer.submit(change)
            messages += 1
        await writer.submit(change_for(deriver.tick(now), now))
        t1 = time.perf_counter()
        for kind, data in out:
            if kind in (
                IngestType.FLEET_STATE,
                IngestType.TASK_STATE,
                IngestType.TASK_LOG,
                IngestType.FLEET_LOG,
            ):
                naive_rows += naive_store(naive, kind, data, now)
        if step % 50 == 0:
            naive.commit()
        t2 = time.perf_counter()
        hub_time += t1 - t0
        naive_time += t2 - t1
        if step % max(1, steps // 20) == 0:
            print(
                f"  {step / steps:4.0%} simulated, {time.perf_counter() - started:6.0f} s",
                file=sys.stderr,
                flush=True,
            )
    await writer.drained()
    naive.commit()
    await _checkpoint(naive)
    hub_rows = {}
    for model in (
        models.RobotPositionSample,
        models.DerivedEvent,
        models.TaskStateHistory,
        models.TaskLogEntry,
        models.FleetLogEntry,
        models.AlertRequest,
    ):
        hub_rows[model._meta.db_table] = await model.all().count()
    robot_days = args.robots * args.hours / 24
    hub_size, naive_size = sizes(hub_db), sizes(naive_db)
    print(
        f"\n{args.robots} robots, {args.hours:g} simulated hours ({robot_days:g} robot-days), {messages} messages, {steps} steps of {args.step_s:g} s"
    )
    print(f"{'':28}{'fleethub':>14}{'naive':>14}")
    print(f"{'history rows':28}{sum(hub_rows.values()):>14,}{int(naive_rows):>14,}")
    print(f"{'database bytes':28}{hub_size:>14,}{naive_size:>14,}")
    print(
        f"{'MB per robot-day':28}{hub_size / robot_days / 1e6:>14.3f}{naive_size / robot_days / 1e6:>14.3f}"
    )
    print(f"{'store time (s, wall)':28}{hub_time:>14.1f}{naive_time:>14.1f}")
    print("fleethub history rows: " + ", ".join(f"{k}={v:,}" for k, v in hub_rows.items()))

    retention = Retention(settings)
    t0 = time.perf_counter()
    deleted = await retention.prune(sim.now_ms)
    hub_prune = time.perf_counter() - t0
    batches = sum(-(-n // settings.retention_batch_rows) for n in deleted.values()) or 1
    cutoff = sim.now_ms - round(args.keep_hours * 3_600_000)
    t0 = time.perf_counter()
    naive_deleted = 0
    for table in ("robot_state_history", "task_state_history", "log_entry"):
        naive_deleted += naive.execute(f"DELETE FROM {table} WHERE time_ms < ?", (cutoff,)).rowcount
    naive.commit()
    naive_prune = time.perf_counter() - t0
    print(f"\nprune to the last {args.keep_hours:g} h:")
    print(f"{'rows deleted':28}{sum(deleted.values()):>14,}{naive_deleted:>14,}")
    print(f"{'prune time (s)':28}{hub_prune:>14.2f}{naive_prune:>14.2f}")
    print(
        f"{'mean s per delete batch':28}{hub_prune / batches:>14.4f}{naive_prune / 3:>14.2f}"
        f"  (fleethub: {batches} batches of <= {settings.retention_batch_rows} rows;"
        " naive: one DELETE per table, holding the database meanwhile)"
    )
    await _checkpoint(naive)
    print(
        f"{'database bytes after prune':28}{sizes(hub_db):>14,}{sizes(naive_db):>14,}  (SQLite keeps freed pages until VACUUM)"
    )
    print("fleethub deleted: " + ", ".join(f"{k}={v:,}" for k, v in deleted.items()))
    writer_task.cancel()
    naive.close()
    await close_database()
    if args.keep_files:
        print(f"databases kept in {workdir}")
    else:
        shutil.rmtree(workdir)


async def _checkpoint(naive: sqlite3.Connection) -> None:
    """Fold both write-ahead logs into their databases, so file sizes are the data's."""
    from tortoise import Tortoise

    await Tortoise.get_connection("default").execute_script("PRAGMA wal_checkpoint(TRUNCATE)")
    naive.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=200)
    parser.add_argument("--fleets", type=int, default=4)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument(
        "--step-s", type=float, default=1.0, help="simulated seconds per step = fleet-state period"
    )
    parser.add_argument("--task-every-s", type=float, default=20.0)
    parser.add_argument("--keep-hours", type=float, default=12.0)
    parser.add_argument("--keep-files", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
