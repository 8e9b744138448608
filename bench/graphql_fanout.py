"""GraphQL subscription fan-out against socket.io's, in one run: 1,000 subscribers each.

Both servers get the same publication stream: 1 KiB fleet states published
to the process's bus (an ``InMemoryBus``, as the hub's publications arrive)
by a publisher task in the server process, flat out and then at a fixed
rate (bench/fanout's two phases, see ``bench/fanout/run.py``). The
baseline is the socket.io proxy (``ours``: ``proxy.app.create_app``), its
clients subscribed to the fleet's state room; against it the API process
(``rest_api.app.create_app``) with ``--clients`` ``fleetState``
subscriptions over graphql-transport-ws on real websockets. Authentication
is off: every subscriber is an admin, the unfiltered path of both. The
clients are bare websocket clients spread over ``--procs`` processes
(``bench/fanout/client.py``), cheap enough not to be what limits either
server. Each server runs alone in its own process, one after the other,
``--rounds`` times alternately so that the machine's drift hits both alike.

Figures: delivered messages/s flat out, and publish-to-receive latency
p50/p99 at ``--rate`` updates/s (the publish time travels in the payload),
for each server and their ratio (GraphQL / socket.io). The machine is
shared: only compare figures of one run.

Reproduce (from the repository root, a few minutes)::

    .venv/bin/python -m bench.graphql_fanout
    .venv/bin/python -m bench.graphql_fanout --clients 2000 --rounds 2
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence

from bench.fanout.run import Result, base_payload, measure, server

SERVERS = (("socket.io", "ours"), ("GraphQL", "graphql"))


def ratio(graphql: float, socketio: float) -> str:
    return f"x{graphql / socketio:.2f}" if socketio else "n/a"


async def main(args: argparse.Namespace) -> None:
    payload = base_payload()
    results: dict[str, list[Result]] = {name: [] for name, _ in SERVERS}
    print(f"load before: {os.getloadavg()}; {os.cpu_count()} cores", flush=True)
    for _ in range(args.rounds):
        for name, kind in SERVERS:
            with server(kind, payload) as srv:
                r = await measure(srv, args.clients, args)
            results[name].append(r)
            print(f"{name:>9} {args.clients} subscribers: {r.delivered:>9.0f} msg/s, "
                  f"p50 {r.p50:.1f} ms, p99 {r.p99:.1f} ms {r.error}", flush=True)  # fmt: skip
    print(f"load after: {os.getloadavg()}")
    best = {name: best_of(rs) for name, rs in results.items()}
    sio, gql = best["socket.io"], best["GraphQL"]
    print(f"\n== {args.clients} subscribers, 1 KiB fleet state (best of {args.rounds}) ==")
    print(f"{'':24} {'socket.io':>10} {'GraphQL':>10} {'GraphQL/socket.io':>18}")
    print(f"{'delivered msg/s, flat out':24} {sio.delivered:>10.0f} {gql.delivered:>10.0f} "
          f"{ratio(gql.delivered, sio.delivered):>18}")  # fmt: skip
    print(f"{f'p50 ms at {args.rate:g}/s':24} {sio.p50:>10.1f} {gql.p50:>10.1f} "
          f"{ratio(gql.p50, sio.p50):>18}")  # fmt: skip
    print(f"{f'p99 ms at {args.rate:g}/s':24} {sio.p99:>10.1f} {gql.p99:>10.1f} "
          f"{ratio(gql.p99, sio.p99):>18}")  # fmt: skip
    for name, rs in results.items():
        for r in rs:
            if r.error:
                print(f"note: {name}: {r.error}")


def best_of(results: Sequence[Result]) -> Result:
    """Each figure at its best over the rounds: the least disturbed by the machine's other load."""
    return Result(
        delivered=max(r.delivered for r in results),
        p50=min(r.p50 for r in results),
        p99=min(r.p99 for r in results),
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--procs", type=int, default=4, help="client processes")
    parser.add_argument("--flat-seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--paced-seconds", type=float, default=10.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
