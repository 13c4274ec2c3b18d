"""Gateway latency: status and submit requests at C concurrent clients, and the event stream.

Starts the harness of tests/gateway (a private redis-server, two Celery workers, a coordinator
and a real ``tsp-celery gateway`` process on 127.0.0.1), then measures, over HTTP on loopback:

- stream: a dsj1000 job is followed on ``/jobs/{id}/stream``; for every ``improved`` event the
  delay from its commit (the event's wall stamp, written with the new best) to its arrival;
- status: C clients call ``GET /jobs/{id}`` back to back for D seconds;
- submit: C clients ``POST /jobs`` berlin52 (TSPLIB text) until N submissions are done, with the
  coordinator stopped first so that the queued jobs are not also solved meanwhile.

Prints p50/p99 and throughput. Usage:

    python bench/gateway.py [--clients 50] [--seconds 10] [--submits 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # process helpers

from tests.gateway.conftest import GatewayHarness  # noqa: E402

DATA = ROOT / "tests" / "data"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stream_lags(harness: GatewayHarness, token: str, time_s: float) -> list[float]:
    """Commit-to-arrival delay of every improvement of one job, seen by an HTTP client."""
    lags = []
    with harness.http(token) as client:
        job_id = client.post("/jobs", params={"time": time_s},
                             content=(DATA / "dsj1000.tsp").read_bytes()).json()["job_id"]
        with client.stream("GET", f"/jobs/{job_id}/stream", timeout=120) as reply:
            event = ""
            for line in reply.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "improved":
                    lags.append(time.time() - json.loads(line[6:])["wall"])
    return lags


async def hammer(url: str, token: str, clients: int, request, stop) -> tuple[list[float], float]:
    """``clients`` concurrent loops of ``request(client)`` until ``stop()``; latencies and s."""
    latencies: list[float] = []

    async def one_client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            while not stop():
                started = time.perf_counter()
                reply = await request(client)
                latencies.append(time.perf_counter() - started)
                reply.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    return latencies, time.perf_counter() - started


def report(name: str, latencies: list[float], wall_s: float) -> None:
    print(f"{name:<7} n={len(latencies):>6}  p50 {1000 * percentile(latencies, 0.5):7.1f} ms  "
          f"p99 {1000 * percentile(latencies, 0.99):7.1f} ms  "
          f"{len(latencies) / wall_s:7.1f} req/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="status phase length")
    parser.add_argument("--submits", type=int, default=500)
    parser.add_argument("--stream-job-seconds", type=float, default=8.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        harness = GatewayHarness(Path(tmp))
        try:
            harness.start()
            token = harness.new_token("bench", "--max-active-jobs", str(10 * args.submits))
            lags = stream_lags(harness, token, args.stream_job_seconds)
            median_ms, max_ms = 1000 * statistics.median(lags), 1000 * max(lags)
            print(f"stream  n={len(lags):>6}  commit->client p50 {median_ms:.1f} ms  "
                  f"max {max_ms:.1f} ms")

            with harness.http(token) as client:
                job_id = client.get("/jobs").json()[0]["job_id"]
            deadline = time.monotonic() + args.seconds
            status = asyncio.run(hammer(harness.url, token, args.clients,
                                        lambda c: c.get(f"/jobs/{job_id}"),
                                        lambda: time.monotonic() > deadline))
            report("status", *status)

            next(s for s in harness.services if s.name == "coordinator").stop(grace_s=10)
            body = (DATA / "berlin52.tsp").read_bytes()
            sent = [0]

            def submit(client: httpx.AsyncClient):
                sent[0] += 1
                return client.post("/jobs", params={"time": 1}, content=body)

            submits = asyncio.run(hammer(harness.url, token, args.clients, submit,
                                         lambda: sent[0] >= args.submits))
            report("submit", *submits)
        finally:
            harness.stop()


if __name__ == "__main__":
    main()
