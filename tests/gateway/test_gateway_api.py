"""The HTTP API against a real gateway process, Redis, coordinator and Celery workers."""

from __future__ import annotations

import gzip
import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from processes import wait_until

from tsp_celery.problem import load_problem, read_tour

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def read_stream(client: httpx.Client, job_id: str, timeout_s: float = 90,
                last_event_id: str | None = None) -> list[tuple[str, dict, str | None]]:
    """Every (event, data, id) frame of the job's stream until the gateway closes it."""
    frames = []
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with client.stream("GET", f"/jobs/{job_id}/stream", headers=headers,
                       timeout=httpx.Timeout(timeout_s)) as reply:
        assert reply.status_code == 200, reply.read()
        assert reply.headers["content-type"].startswith("text/event-stream")
        event, data, event_id = "message", "", None
        for line in reply.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data += line[6:]
            elif line.startswith("id: "):
                event_id = line[4:]
            elif line == "" and data:
                frames.append((event, json.loads(data), event_id))
                event, data, event_id = "message", "", None
    return frames


def wait_done(client: httpx.Client, job_id: str) -> dict:
    def final() -> dict | None:
        view = client.get(f"/jobs/{job_id}").json()
        return view if view["status"] in ("done", "failed", "cancelled") else None

    view = wait_until(final, 90, f"job {job_id} to end")
    assert view["status"] == "done", view
    return view


def submit(client: httpx.Client, path, **params) -> httpx.Response:
    return client.post("/jobs", params=params, content=path.read_bytes(),
                       headers={"Content-Type": "text/plain"})


@pytest.mark.timeout(180)
def test_submit_stream_until_done_and_fetch_tour(gateway, data_dir, tmp_path):
    token = gateway.new_token("alice")
    gateway.wait_idle()
    with gateway.http(token) as client:
        reply = submit(client, data_dir / "dsj1000.tsp", time=12, seed=3)
        assert reply.status_code == 202, reply.text
        job_id = reply.json()["job_id"]
        assert reply.json()["seed"] == 3 and reply.json()["n"] == 1000

        frames = read_stream(client, job_id)
        kinds = [kind for kind, _data, _id in frames]
        assert kinds[0] == "status"
        assert "improved" in kinds and kinds[-2:] == ["done", "status"]
        assert frames[-1][1]["status"] == "done"
        improvements = [d["data"]["length"] for kind, d, _ in frames if kind == "improved"]
        assert improvements == sorted(improvements, reverse=True)
        assert all(event_id for kind, _d, event_id in frames if kind != "status")

        view = client.get(f"/jobs/{job_id}").json()
        assert view["status"] == "done" and view["rounds_done"] >= 1
        assert view["gap_pct"] is not None and view["optimum"] > 0  # dsj1000's known optimum

        problem = load_problem(data_dir / "dsj1000.tsp")
        doc = client.get(f"/jobs/{job_id}/tour", params={"points": 100}).json()
        assert sorted(doc["tour"]) == list(range(1000))
        assert doc["length"] == problem.tour_length(doc["tour"]) == view["best_length"]
        assert 3 <= len(doc["path"]) <= 100

        text = client.get(f"/jobs/{job_id}/tour", params={"format": "tsplib"})
        assert text.headers["content-type"].startswith("text/plain")
        (tmp_path / "best.tour").write_text(text.text)
        assert read_tour(tmp_path / "best.tour", 1000).tolist() == doc["tour"]

        events = client.get(f"/jobs/{job_id}/events").json()
        assert events[0]["type"] == "submitted" and events[-1]["type"] == "done"
        lamports = [e["lamport"] for e in events]
        assert lamports == sorted(lamports)

        # Resuming after the last event gives only the closing status, not the history again.
        again = read_stream(client, job_id, last_event_id=frames[-2][2])
        assert [kind for kind, _d, _id in again] == ["status"]

        assert [j["job_id"] for j in client.get("/jobs").json()] == [job_id]


@pytest.mark.timeout(120)
def test_gzip_and_json_bodies_are_solved_as_sent(gateway, data_dir):
    token = gateway.new_token("formats", "--max-active-jobs", "10")
    a280 = data_dir / "a280.tsp"
    with gateway.http(token) as client:
        replies = [
            client.post("/jobs", params={"time": 2}, content=gzip.compress(a280.read_bytes()),
                        headers={"Content-Type": "application/gzip"}),
            client.post("/jobs", json={"coords": [[0, 0], [3, 0], [3, 4], [0, 4]], "time": 1}),
            client.post("/jobs", params={"time": 1},
                        json={"name": "m", "matrix": [[0, 2, 9], [2, 0, 6], [9, 6, 0]]}),
        ]
        assert [r.status_code for r in replies] == [202, 202, 202], [r.text for r in replies]
        assert [r.json()["n"] for r in replies] == [280, 4, 3]
        finals = [wait_done(client, r.json()["job_id"]) for r in replies]
        assert [st["name"] for st in finals] == ["a280", "api", "m"]
        assert finals[0]["best_length"] >= 2579  # a280's optimum
        assert finals[1]["best_length"] == 14  # the square's perimeter
        assert finals[2]["best_length"] == 2 + 6 + 9


@pytest.mark.timeout(150)
def test_a_large_tour_is_decimated_for_drawing(gateway):
    import numpy as np

    xy = np.random.default_rng(5).uniform(0, 1000, size=(6000, 2)).round(2)
    token = gateway.new_token("large", "--max-nodes", "6000")
    gateway.wait_idle()
    with gateway.http(token) as client:
        job_id = client.post("/jobs", json={"coords": xy.tolist(), "time": 60}).json()["job_id"]
        wait_until(lambda: client.get(f"/jobs/{job_id}").json()["best_length"], 120,
                   "a first tour of 6000 nodes")
        doc = client.get(f"/jobs/{job_id}/tour", params={"points": 4000}).json()
        client.delete(f"/jobs/{job_id}")
    assert len(doc["tour"]) == 6000
    assert len(doc["path"]) == 3000  # every 2nd node along the tour
    assert doc["path"][:2] == xy[doc["tour"][0:3:2]].tolist()


@pytest.mark.timeout(90)
def test_the_lower_bound_is_reported_when_asked_for(gateway, data_dir):
    token = gateway.new_token("bounded")
    gateway.wait_idle()
    with gateway.http(token) as client:
        job_id = submit(client, data_dir / "kroA100.tsp", time=3, bound="true").json()["job_id"]
        wait_done(client, job_id)
        # the bound task writes to the instance's cache as it improves; on a loaded machine the
        # job may end before the task's first write
        view = wait_until(lambda: (v := client.get(f"/jobs/{job_id}").json())["lower_bound"]
                          and v, 30, "the lower bound")
    assert view["optimum"] == 21282  # TSPLIB's published optimum of kroA100
    assert 0 < view["lower_bound"] <= view["optimum"] <= view["best_length"]


@pytest.mark.timeout(120)
def test_running_job_cancel_ends_its_stream(gateway, data_dir):
    token = gateway.new_token("canceller")
    with gateway.http(token) as client:
        job_id = submit(client, data_dir / "dsj1000.tsp", time=60).json()["job_id"]
        wait_until(lambda: client.get(f"/jobs/{job_id}").json()["status"] == "running", 60,
                   "the job to start")
        assert client.delete(f"/jobs/{job_id}").status_code == 200
        started = time.monotonic()
        frames = read_stream(client, job_id)
        assert frames[-1][1]["status"] == "cancelled"
        assert time.monotonic() - started < 45  # not the 60 s budget


@pytest.mark.timeout(150)
def test_a_quiet_stream_stays_open_with_pings_until_the_job_ends(gateway, data_dir):
    """A queued job behind two running ones logs nothing for a while: its stream must ping
    (every 15 s) rather than fail, then end when the job is cancelled."""
    token = gateway.new_token("patient", "--max-active-jobs", "3")
    gateway.wait_idle()
    with gateway.http(token) as client:
        busy = [submit(client, data_dir / "dsj1000.tsp", time=60).json()["job_id"]
                for _ in range(2)]
        wait_until(lambda: all(client.get(f"/jobs/{j}").json()["status"] == "running"
                               for j in busy), 60, "two running jobs")
        waiting = submit(client, data_dir / "berlin52.tsp", time=1, priority=-1000)
        job_id = waiting.json()["job_id"]
        lines, opened = [], time.monotonic()
        with client.stream("GET", f"/jobs/{job_id}/stream", timeout=60) as reply:
            for line in reply.iter_lines():
                lines.append(line)
                if line == ": ping":
                    quiet_s = time.monotonic() - opened
                    client.delete(f"/jobs/{job_id}")
        for j in busy:
            client.delete(f"/jobs/{j}")
    assert lines[:2] == ["event: status", lines[1]] and '"status":"queued"' in lines[1]
    assert 14 < quiet_s < 40
    assert "event: cancelled" in lines and '"status":"cancelled"' in lines[-2]


@pytest.mark.timeout(60)
def test_missing_malformed_or_wrong_token_is_401(gateway, data_dir):
    token = gateway.new_token("real")
    wrong_secret = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for bad in (None, "nonsense", wrong_secret):
        with gateway.http(bad) as client:
            for reply in (submit(client, data_dir / "burma14.tsp"), client.get("/jobs")):
                assert reply.status_code == 401, reply.text
                assert reply.headers["www-authenticate"] == "Bearer"
    revoked = gateway.new_token("revoked")
    assert gateway.cli("tokens", "revoke", revoked.split("_")[1]).returncode == 0
    with gateway.http(revoked) as client:
        assert client.get("/jobs").status_code == 401


@pytest.mark.timeout(90)
def test_another_tokens_job_is_404(gateway, data_dir):
    alice, bob = gateway.new_token("alice2"), gateway.new_token("bob")
    with gateway.http(alice) as a, gateway.http(bob) as b:
        job_id = submit(a, data_dir / "burma14.tsp", time=1).json()["job_id"]
        for method, path in (("GET", ""), ("GET", "/tour"), ("GET", "/events"),
                             ("GET", "/stream"), ("DELETE", "")):
            reply = b.request(method, f"/jobs/{job_id}{path}")
            assert reply.status_code == 404, (method, path, reply.text)
            assert reply.json()["detail"] == f"no job {job_id!r} for this token"
        assert b.get("/jobs").json() == []
        assert a.get(f"/jobs/{job_id}").status_code == 200
        assert b.get("/jobs/unknown0000000").status_code == 404


@pytest.mark.timeout(90)
def test_over_limit_requests_are_refused_with_a_clear_message(gateway, data_dir):
    token = gateway.new_token("small", "--max-nodes", "100", "--max-job-seconds", "30",
                              "--max-active-jobs", "1")
    with gateway.http(token) as client:
        too_many = submit(client, data_dir / "a280.tsp")
        assert too_many.status_code == 413
        assert too_many.json()["detail"] == ("instance has 280 nodes; this token allows at "
                                             "most 100")
        too_long = submit(client, data_dir / "berlin52.tsp", time=31)
        assert too_long.status_code == 422
        assert "time budget 31 s; this token allows at most 30 s" in too_long.json()["detail"]

        bad_query = submit(client, data_dir / "berlin52.tsp", time=-1)
        bad_json = client.post("/jobs", json={"coords": [[0, 0], [1, 0], [0, 1]], "time": 0})
        assert (bad_query.status_code, bad_json.status_code) == (422, 422)
        assert bad_json.json()["detail"] == "option time: Input should be greater than 0"

        huge = b"1 2\n" * ((5 << 20) // 4)  # 5 MiB of coordinates: over the gateway's 4 MiB cap
        assert client.post("/jobs", content=huge).status_code == 413
        bomb = gzip.compress(b"1 2\n" * ((8 << 20) // 4))  # a few kB that inflate to 8 MiB
        assert len(bomb) < 100_000
        reply = client.post("/jobs", content=bomb, headers={"Content-Encoding": "gzip"})
        assert reply.status_code == 413
        assert "inflates past the limit" in reply.json()["detail"]
        assert client.get("/jobs").json() == []  # nothing was queued

        first = submit(client, data_dir / "berlin52.tsp", time=20, priority=-1000)
        assert first.status_code == 202
        second = submit(client, data_dir / "berlin52.tsp", time=1)
        assert second.status_code == 429
        assert "limit is 1" in second.json()["detail"]
        client.delete(f"/jobs/{first.json()['job_id']}")


@pytest.mark.timeout(120)
def test_concurrent_submissions_never_pass_the_active_jobs_quota(gateway, data_dir):
    """Eight submissions at once on a token allowed two active jobs: exactly two are queued."""
    token = gateway.new_token("burst", "--max-active-jobs", "2")

    def one(_: int) -> httpx.Response:
        with gateway.http(token) as client:
            return submit(client, data_dir / "berlin52.tsp", time=20, priority=-1000)

    with ThreadPoolExecutor(max_workers=8) as pool:
        replies = list(pool.map(one, range(8)))
    codes = sorted(r.status_code for r in replies)
    assert codes == [202, 202] + [429] * 6, [r.text for r in replies]
    with gateway.http(token) as client:
        queued = client.get("/jobs").json()
        assert len(queued) == 2
        for job in queued:
            client.delete(f"/jobs/{job['job_id']}")


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("content_type", "body", "detail"), [
    ("text/plain", b"hello world\n", "body"),
    ("text/plain", b"", "empty body"),
    ("application/octet-stream", bytes(range(256)) * 4, "body"),
    ("application/json", b"{not json", "not valid JSON"),
    ("application/json", b'{"coords": [[0, 0], [1, 1], [2, 0]], "matrix": [[0]]}',
     "exactly one of 'coords' or 'matrix'"),
    ("application/json", b'{"coords": [[0, 0], [1, 1]]}', "at least 3 nodes"),
    ("application/json", b'{"coords": [[0, 0], [1, 1], [2, 0]], "colour": 1}', "colour"),
    ("text/plain", gzip.compress(b"1 2\n3 4\n5 6\n", mtime=0)[:-6], "corrupt gzip"),
])
def test_malformed_bodies_are_400_and_queue_nothing(gateway, content_type, body, detail):
    token = gateway.new_token("sloppy")
    with gateway.http(token) as client:
        reply = client.post("/jobs", content=body, headers={"Content-Type": content_type})
        assert reply.status_code == 400, reply.text
        assert detail in reply.json()["detail"]
        assert client.get("/jobs").json() == []


@pytest.mark.timeout(60)
def test_tokens_are_stored_only_as_digests(gateway):
    import hashlib

    created = gateway.cli("tokens", "create", "at-rest")
    assert created.returncode == 0, created.stderr
    (token,) = created.stdout.splitlines()  # the token alone; the explanation goes to stderr
    assert token.startswith("tspg_") and "at-rest" in created.stderr
    token_id, secret = token.split("_", 2)[1:]
    stored = {}
    for key in gateway.redis.scan_iter(match=f"{gateway.keys.prefix}:gateway:*"):
        if gateway.redis.type(key) == b"hash":
            stored[key] = gateway.redis.hgetall(key)
    record = stored[gateway.keys.gateway_token(token_id).encode()]
    assert record[b"digest"] == hashlib.sha256(secret.encode()).hexdigest().encode()
    assert secret.encode() not in b"".join(b"".join(h.values()) for h in stored.values())
    assert secret not in gateway.logs()
    listed = gateway.cli("tokens", "list")
    assert token_id in listed.stdout and secret not in listed.stdout
    assert "digest" not in listed.stdout


@pytest.mark.timeout(30)
def test_openapi_document_and_health(gateway):
    doc = httpx.get(f"{gateway.url}/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/tour",
                                 "/jobs/{job_id}/events", "/jobs/{job_id}/stream", "/health"}
    assert set(doc["paths"]["/jobs"]) == {"get", "post"}
    assert set(doc["paths"]["/jobs/{job_id}"]) == {"get", "delete"}
    assert doc["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    post = doc["paths"]["/jobs"]["post"]
    assert set(post["requestBody"]["content"]) == {"application/json", "text/plain",
                                                   "application/gzip"}
    assert {p["name"] for p in post["parameters"]} >= {"time", "target", "seed", "bound"}
    assert {"413", "422", "429", "400", "401"} <= set(post["responses"])
    stream = doc["paths"]["/jobs/{job_id}/stream"]["get"]["responses"]["200"]["content"]
    assert "text/event-stream" in stream
    health = httpx.get(f"{gateway.url}/health").json()
    assert health == {"status": "ok", "redis": True, "leader": "gw-coord", "workers": 2}


@pytest.mark.timeout(120)
def test_cli_submit_and_python_solve_through_the_gateway(gateway, data_dir):
    from tsp_celery import load, solve

    token = gateway.new_token("clients")
    env_free = {k: v for k, v in gateway.env.items() if k != "TSP_CELERY_REDIS_URL"}
    done = gateway.cli("submit", str(data_dir / "berlin52.tsp"), "--time", "1", "--json",
                       "--gateway", gateway.url, "--token", token, env=env_free)
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["job_id"]
    with gateway.http(token) as client:
        assert client.get(f"/jobs/{job_id}").json()["n"] == 52

    bad = gateway.cli("submit", str(data_dir / "berlin52.tsp"), "--gateway", gateway.url,
                      "--token", "tspg_000000000000_" + "x" * 43, env=env_free)
    assert bad.returncode == 2 and "401" in bad.stderr

    gateway.wait_idle()
    result = solve(load(data_dir / "berlin52.tsp"), time=3, gateway=gateway.url, token=token)
    assert sorted(result.tour) == list(range(52))
    assert result.length == load(data_dir / "berlin52.tsp").tour_length(result.tour)
    assert result.stats["status"] == "done"



@pytest.mark.timeout(60)
def test_metrics_count_requests_by_route_template_never_by_job(gateway):
    token = gateway.new_token("metrics")
    with gateway.http(token) as client:
        assert client.get("/jobs/no-such-job").status_code == 404
        assert client.get("/jobs").status_code == 200
    with gateway.http(None) as anonymous:
        assert anonymous.get("/jobs").status_code == 401
        text = anonymous.get("/metrics").text  # no token needed: it names no job
    prefix = "tsp_celery_gateway_requests_total{"
    counted = {line[len(prefix):].rsplit("}", 1)[0]: float(line.rsplit(" ", 1)[1])
               for line in text.splitlines() if line.startswith(prefix)}
    assert counted['method="GET",route="/jobs/{job_id}",status="404"'] >= 1
    assert counted['method="GET",route="/jobs",status="200"'] >= 1
    assert counted['method="GET",route="/jobs",status="401"'] >= 1
    assert "no-such-job" not in text and token not in text
    assert 'tsp_celery_gateway_request_duration_seconds_count{method="GET",route="/jobs"}' in text
