"""Run a Python entry point with a memory probe the soak benches can trigger from outside.

RSS alone says *that* a process grows, not *what* grows. This wrapper runs a
module as ``__main__`` (``fleethub``, ``bench.fanout.servers``, ...) unchanged,
and on ``SIGUSR1`` writes, to ``OUT_DIR/probe-<n>.json``: the live objects the
garbage collector tracks counted by type (the types most numerous), the
number of asyncio tasks, and, when the process runs with tracemalloc on
(``PYTHONTRACEMALLOC=1``), the source lines whose allocations grew most since
the first probe. Two probes far apart show which structure holds the growth.

The probe runs in the main thread between bytecodes (a Python signal
handler), so it sees a consistent heap; it costs the probed process a pause
of a fraction of a second per probe, none between probes.

On ``SIGUSR2`` it does the same, then hands the C allocator's free memory
back to the system (:func:`trim`), so that RSS read after it shows what the
process still uses rather than what its allocator keeps for later.

Run: ``python -m bench.memprobe OUT_DIR MODULE [ARGS...]``; then ``kill -USR1 PID``.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import json
import os
import runpy
import signal
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

TOP_LINES = 25


def trim() -> bool:
    """Hand the C allocator's free memory back to the system (glibc ``malloc_trim``).

    A process that freed what many clients held keeps much of it mapped in the
    allocator's free lists, which RSS counts: the RSS after a trim tells that
    (memory the program may use again) from what live objects still hold.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.malloc_trim(0))


class Probe:
    def __init__(self, out_dir: Path) -> None:
        self._out_dir = out_dir
        self._count = 0
        self._first: tracemalloc.Snapshot | None = None

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self._count += 1
        body = {"at": time.time(), **self.heap(), **self.traced()}
        if signum == signal.SIGUSR2:
            body["trimmed"] = trim()
        target = self._out_dir / f"probe-{self._count}.json"
        part = target.with_suffix(".part")
        part.write_text(json.dumps(body))
        part.rename(target)  # whole or absent: the reader polls for it

    @staticmethod
    def heap() -> dict[str, object]:
        gc.collect()
        objects = gc.get_objects()
        by_type = Counter(type(o).__qualname__ for o in objects)
        tasks = sum(1 for o in objects if isinstance(o, asyncio.Task) and not o.done())
        return {
            "objects": len(objects),
            "tasks": tasks,
            "types": dict(by_type),
        }

    def traced(self) -> dict[str, object]:
        if not tracemalloc.is_tracing():
            return {}
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)]
        )
        if self._first is None:
            self._first = snapshot
        growth = snapshot.compare_to(self._first, "lineno")[:TOP_LINES]
        return {
            "traced_mb": tracemalloc.get_traced_memory()[0] / 2**20,
            "grew": [
                {"where": str(s.traceback[0]), "kib": s.size_diff / 1024, "count": s.count_diff}
                for s in growth
            ],
        }


def anon_mb(pid: int) -> float:
    """The process's anonymous resident memory (its heap), in MB.

    RSS also counts the pages of shared libraries it has touched: loading a
    codec library the first time a clip is encoded adds tens of MB that are
    no leak. ``RssAnon`` leaves those out.
    """
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no RssAnon for {pid}")


class Prober:
    """The reading side: asks a process started under this wrapper for probes, one after another."""

    def __init__(self, pid: int, out_dir: Path) -> None:
        self._pid = pid
        self._out_dir = out_dir
        self._taken = 0

    def take(self, trim: bool = False, timeout_s: float = 300.0) -> dict[str, Any]:
        """Signal the process and read its next probe (blocking: call it in a thread);
        ``trim``: and have it hand its allocator's free memory back (:func:`trim`) after."""
        self._taken += 1
        target = self._out_dir / f"probe-{self._taken}.json"
        os.kill(self._pid, signal.SIGUSR2 if trim else signal.SIGUSR1)
        deadline = time.monotonic() + timeout_s
        while not target.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {target} after {timeout_s} s")
            time.sleep(0.2)
        return json.loads(target.read_text())  # type: ignore[no-any-return]


def growth(before: dict[str, Any], after: dict[str, Any], top: int = 12) -> list[str]:
    """The object types whose live count grew most between two probes, as printable lines."""
    old, new = before["types"], after["types"]
    grew = sorted(((new[t] - old.get(t, 0), t) for t in new), reverse=True)[:top]
    lines = [f"{t:>32} {old.get(t, 0):>9} -> {new[t]:>9} ({d:+})" for d, t in grew if d]
    lines.append(
        f"{'all gc-tracked objects':>32} {before['objects']:>9} -> {after['objects']:>9}; "
        f"running tasks {before['tasks']} -> {after['tasks']}"
    )
    lines += [
        f"  {g['kib']:+10.1f} KiB {g['count']:+8} blocks  {g['where']}"
        for g in after.get("grew", [])
    ]
    return lines


def main() -> None:
    out_dir, module, args = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    out_dir.mkdir(parents=True, exist_ok=True)
    probe = Probe(out_dir)
    signal.signal(signal.SIGUSR1, probe)
    signal.signal(signal.SIGUSR2, probe)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
