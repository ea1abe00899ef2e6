"""Load test of the decision service: POST /v1/evaluate on loopback at concurrency 1, 16 and 64.

Starts `rxpolicy serve` on a free port (as a user would), then keeps N connections busy, each sending
the next request as soon as the previous answer is in (HTTP/1.1 keep-alive, a minimal asyncio client so
the load generator takes as little of the machine's CPU as it can). Prints requests per second, p50 and
p99 latency and the error count (any answer that is not 200 with a decision counts as an error).

    python benchmarks/serve_load.py [--seconds 5] [--workers 1] [--explain false] [--concurrency 1,16,64]

Besides the figures users see, it prints the CPU time the server and the load generator spend per request
(from /proc): on a shared machine those say what the service would do with the cores to itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CASES = sorted((ROOT / "examples" / "hollandzorg").glob("*.yaml"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, workers: int) -> subprocess.Popen[bytes]:
    exe = shutil.which("rxpolicy") or str(Path(sys.executable).parent / "rxpolicy")
    process = subprocess.Popen([exe, "serve", "--port", str(port), "--workers", str(workers), "--no-access-log"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the service did not become ready in 60 s: " + process.stderr.read().decode()[-2000:]
                     if process.stderr else "")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children (the worker processes), from /proc."""
    total, pids, seen = 0.0, [pid], set()
    tick = os.sysconf("SC_CLK_TCK")
    while pids:
        current = pids.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                pids += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


def requests_bytes(port: int, explain: bool) -> list[bytes]:
    out = []
    for path in CASES:
        body = json.dumps(yaml.safe_load(path.read_text()), default=str).encode()
        out.append(f"POST /v1/evaluate?explain={'true' if explain else 'false'} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


async def one_connection(port: int, requests: list[bytes], until: float, latencies: list[float],
                         errors: list[str], offset: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while time.perf_counter() < until:
            request = requests[i % len(requests)]
            i += 1
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200 or b'"decisions"' not in body:
                errors.append(f"{status}: {body[:200]!r}")
    finally:
        writer.close()


async def run(port: int, concurrency: int, seconds: float, requests: list[bytes]) -> tuple[int, list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    # Warm up: each connection's first requests pay for imports and caches.
    await asyncio.gather(*(one_connection(port, requests, time.perf_counter() + 0.5, [], [], i)
                           for i in range(concurrency)))
    started = time.perf_counter()
    await asyncio.gather(*(one_connection(port, requests, started + seconds, latencies, errors, i)
                           for i in range(concurrency)))
    return len(latencies), latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--explain", choices=["true", "false"], default="false")
    parser.add_argument("--concurrency", default="1,16,64")
    args = parser.parse_args()
    port = free_port()
    server = start_server(port, args.workers)
    try:
        requests = requests_bytes(port, args.explain == "true")
        print(f"POST /v1/evaluate?explain={args.explain}, {len(requests)} HollandZorg example cases in turn, "
              f"{args.workers} worker process(es), {os.cpu_count()} CPUs, {args.seconds:g} s per level")
        print(f"{'concurrency':>11} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} "
              f"{'server CPU ms/req':>17} {'client CPU ms/req':>17}")
        for level in [int(c) for c in args.concurrency.split(",")]:
            server_before, client_before = cpu_seconds(server.pid), time.process_time()
            count, latencies, errors = asyncio.run(run(port, level, args.seconds, requests))
            server_cpu = cpu_seconds(server.pid) - server_before
            client_cpu = time.process_time() - client_before
            quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
            # CPU per request includes the warm-up's requests, which are not counted: a slight overestimate.
            print(f"{level:>11} {count:>9} {count / args.seconds:>8.0f} {quantiles[49] * 1000:>7.2f} "
                  f"{quantiles[98] * 1000:>7.2f} {len(errors):>6} {server_cpu / count * 1000:>17.3f} "
                  f"{client_cpu / count * 1000:>17.3f}")
            for error in errors[:3]:
                print("   error:", error)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
