"""Bounded load test of the web app on loopback.

Starts `lookalike serve` on a free port with a fresh data dir, uploads a table and starts
one training job, then runs N concurrent clients for a bounded time, each looping over:
list datasets, create a (small) dataset, get one dataset, list jobs, poll the training
job. Reports latency percentiles per endpoint and the p95 of the non-job endpoints,
which must stay under 200 ms with no errors. Everything it started is stopped at the end.

    python benchmarks/load_server.py [--clients 20] [--seconds 30] [--think 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TITANIC = ROOT / "src" / "lookalike" / "examples" / "titanic.csv"
P95_LIMIT_MS = 200.0


def small_csv(rng: random.Random) -> bytes:
    n = 50
    df = pd.DataFrame({"a": [rng.randint(0, 100) for _ in range(n)], "b": [rng.choice("xyz") for _ in range(n)],
                       "c": [rng.random() for _ in range(n)]})
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode()


async def client_loop(base: str, job_id: str, dataset_id: str, stop_at: float, think: float, seed: int,
                      lat: dict, errors: list) -> None:
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        async def call(name: str, method: str, url: str, **kw):
            t = time.perf_counter()
            try:
                r = await c.request(method, url, **kw)
                ok = r.status_code < 400
            except httpx.HTTPError as exc:
                ok, r = False, exc
            lat[name].append((time.perf_counter() - t) * 1000)
            if not ok:
                errors.append(f"{name}: {getattr(r, 'status_code', r)} {getattr(r, 'text', '')[:200]}")

        while time.monotonic() < stop_at:
            step = rng.random()
            if step < 0.30:
                await call("GET /api/datasets", "GET", "/api/datasets")
            elif step < 0.40:
                await call("POST /api/datasets", "POST", "/api/datasets",
                           files={"file": (f"load-{seed}.csv", small_csv(rng), "text/csv")})
            elif step < 0.55:
                await call("GET /api/datasets/{id}", "GET", f"/api/datasets/{dataset_id}")
            elif step < 0.65:
                await call("GET /api/jobs", "GET", "/api/jobs")
            else:
                await call("GET /api/jobs/{id}", "GET", f"/api/jobs/{job_id}")
            await asyncio.sleep(think)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), without its job processes."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--think", type=float, default=0.1, help="pause between one client's requests (s)")
    ap.add_argument("--data", type=Path, default=TITANIC, help="table for the training job")
    args = ap.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen([sys.executable, "-c", "from lookalike.cli import app; app()", "serve", "--port", str(port),
                                   "--data-dir", str(Path(tmp) / "data")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            for _ in range(300):
                try:
                    httpx.get(base + "/api/info", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            with open(args.data, "rb") as fh:
                ds = httpx.post(base + "/api/datasets", files={"file": (args.data.name, fh.read())}, timeout=60).json()
            job = httpx.post(base + f"/api/datasets/{ds['id']}/train", timeout=30, json={"options": {
                "max_training_time": args.seconds + 30, "patience": 10_000, "max_epochs": 10_000, "seed": 0}}).json()
            while httpx.get(base + f"/api/jobs/{job['id']}").json()["progress"] is None:
                time.sleep(0.2)  # the job process is up

            lat: dict[str, list[float]] = defaultdict(list)
            errors: list[str] = []
            stop_at = time.monotonic() + args.seconds

            async def run_all():
                await asyncio.gather(*(client_loop(base, job["id"], ds["id"], stop_at, args.think, i, lat, errors)
                                       for i in range(args.clients)))

            t0, cpu0, load0 = time.monotonic(), _cpu_seconds(server.pid), os.getloadavg()[0]
            asyncio.run(run_all())
            wall = time.monotonic() - t0
            server_cpu, load1 = _cpu_seconds(server.pid) - cpu0, os.getloadavg()[0]
            final = httpx.get(base + f"/api/jobs/{job['id']}").json()
            httpx.post(base + f"/api/jobs/{job['id']}/cancel")
        finally:
            os.killpg(server.pid, signal.SIGINT)  # clean shutdown: the job runner stops its job
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()

    print(f"# lookalike server load test: {args.clients} clients x {args.seconds:.0f}s, think {args.think}s, "
          f"one training job running ({args.data.name}); {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{'endpoint':28s} {'n':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'p99 ms':>8s} {'max ms':>8s}")
    for name in sorted(lat):
        v = np.array(lat[name])
        print(f"{name:28s} {len(v):6d} {np.percentile(v, 50):8.1f} {np.percentile(v, 95):8.1f} "
              f"{np.percentile(v, 99):8.1f} {v.max():8.1f}")
    non_job = np.concatenate([lat[k] for k in lat if "/jobs" not in k])
    total = sum(len(v) for v in lat.values())
    p95 = float(np.percentile(non_job, 95))
    print(f"requests: {total} in {wall:.1f}s ({total / wall:.0f}/s); errors: {len(errors)}")
    print(f"non-job endpoints p95: {p95:.1f} ms (limit {P95_LIMIT_MS:.0f} ms)")
    print(f"training job during the test: {final['status']}, epoch {(final['progress'] or {}).get('epoch')}")
    print(f"server process CPU: {1000 * server_cpu / total:.1f} ms per request ({100 * server_cpu / wall:.0f}% of a core); "
          f"machine load average {load0:.1f} -> {load1:.1f} on {os.cpu_count()} CPUs")
    for e in errors[:5]:
        print("error:", e)
    ok = not errors and p95 < P95_LIMIT_MS and final["status"] == "running"
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
