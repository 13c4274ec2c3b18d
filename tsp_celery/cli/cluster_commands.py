"""Cluster commands: submit, status, watch, result, cancel, jobs, workers, coordinator.

Every command takes ``--redis-url`` (default: $TSP_CELERY_REDIS_URL); all but ``coordinator``
(a service that logs) take ``--json`` with stable keys. Redis unreachable exits 3
(ClusterUnreachableError), an unknown job 2, a failed job 1.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from typing import Any

import click

from tsp_celery.cli.instance import load_instance
from tsp_celery.cli.options import (
    PRIORITY,
    SEED,
    TARGET,
    count,
    merge_option,
    seconds,
    stall_option,
)
from tsp_celery.cluster.client import ClusterClient
from tsp_celery.cluster.job import JobParams, JobStatus
from tsp_celery.errors import JobFailedError
from tsp_celery.logformat import FORMATS, format_from_env, set_node, use_format
from tsp_celery.problem.optima import known_optimum
from tsp_celery.settings import Settings

_URL_HELP = "Redis URL [default: $TSP_CELERY_REDIS_URL or redis://localhost:6379/0]."


def cluster_client(redis_url: str | None) -> ClusterClient:
    """The client of the cluster behind ``redis_url`` (None: the settings' URL)."""
    try:
        settings = Settings.from_env(redis_url=redis_url)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    return ClusterClient(settings)


def _emit(data: Any) -> None:
    click.echo(json.dumps(data, default=str))


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return str(int(v)) if float(v).is_integer() else f"{v:.2f}"


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= width else text[:width - 1] + "…"


def _optimum(status: dict) -> float | None:
    return status.get("target") or known_optimum(status.get("name") or "", status.get("n") or 0)


def _with_gap(status: dict) -> dict:
    opt = _optimum(status)
    best = status.get("best_length")
    gap = None if not opt or best is None else 100.0 * (best - opt) / opt
    return {**status, "optimum": opt, "gap_pct": gap}


url_option = click.option("--redis-url", default=None, help=_URL_HELP)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.command()
@click.argument("file", type=click.Path())
@click.option("--time", "time_s", type=seconds("60"), default=10.0, show_default=True,
              help="Time budget in seconds (counted from admission).")
@click.option("--target", type=TARGET, default=None, help="Stop once a tour this short is found.")
@click.option("--priority", type=PRIORITY, default=0, show_default=True,
              help="Higher runs first when jobs queue (-1000..1000).")
@click.option("--seed", type=SEED, default=None,
              help="Seed for the units (default: random, stored with the job and reported in "
                   "the result).")
@stall_option
@click.option("--bound/--no-bound", default=False, help="Compute a Held-Karp lower bound too.")
@merge_option
@json_option
@url_option
@click.option("--gateway", default=None, help="Submit through this gateway URL instead of Redis.")
@click.option("--token", default=None, help="Gateway token [default: $TSP_CELERY_GATEWAY_TOKEN].")
def submit(file: str, time_s: float, target: float | None, priority: int, seed: int | None,
           stall_rounds: int | None, bound: bool, merge: bool, as_json: bool,
           redis_url: str | None, gateway: str | None, token: str | None) -> None:
    """Queue FILE (TSPLIB or coordinates) on the cluster; prints the job id."""
    if seed is None:  # as solve does: runs differ unless asked to repeat one
        seed = secrets.randbelow(2**31)
    if gateway is not None:
        from tsp_celery.gateway.http_client import submit_file

        reply = submit_file(gateway, token, file, {
            "time": time_s, "target": target, "priority": priority, "seed": seed,
            "stall_rounds": stall_rounds, "bound": bound, "merge": merge})
        if as_json:
            _emit(reply)
        else:
            click.echo(reply["job_id"])
        if reply.get("warning"):
            click.echo(f"warning: {reply['warning']}; job {reply['job_id']} is queued", err=True)
        return
    try:
        params = JobParams(time_s=time_s, target=target, priority=priority, seed=seed,
                           stall_rounds=stall_rounds, bound=bound, merge=merge)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    problem = load_instance(file)
    client = cluster_client(redis_url)
    job_id = client.submit(problem, params)
    missing = client.missing_service()
    if as_json:
        _emit({"job_id": job_id, "status": JobStatus.QUEUED.value, "n": problem.n, "seed": seed,
               "queued_only": missing is not None, "warning": missing})
    else:
        click.echo(job_id)
    if missing:
        click.echo(f"warning: {missing}; job {job_id} is queued and starts when it is",
                   err=True)


@click.command()
@click.argument("job_id")
@json_option
@url_option
def status(job_id: str, as_json: bool, redis_url: str | None) -> None:
    """Show JOB_ID's status, best length, round and elapsed time."""
    st = _with_gap(cluster_client(redis_url).status(job_id))
    if as_json:
        _emit(st)
        return
    click.echo(f"job {st['job_id']} ({st['name']}, n={st['n']}): {st['status']}")
    line = f"best {_fmt(st['best_length'])}"
    if st["gap_pct"] is not None:
        line += f" (gap {st['gap_pct']:.3f}%)"
    click.echo(f"  {line}, round {st['round']}, {st['elapsed']:.1f}s of {st['time_s']:g}s")
    if st["error"]:
        click.echo(f"  error: {st['error']}")


def _bar_line(st: dict, workers: int) -> str:
    frac = min(st["elapsed"] / st["time_s"], 1.0) if st["time_s"] else 0.0
    if JobStatus(st["status"]).is_final:
        frac = 1.0
    width = 24
    bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
    parts = [f"[{bar}] {st['status']:<9}", f"best {_fmt(st['best_length'])}"]
    if st["gap_pct"] is not None:
        parts.append(f"gap {st['gap_pct']:.3f}%")
    parts += [f"round {st['round']}", f"workers {workers}",
              f"{st['elapsed']:.1f}s/{st['time_s']:g}s"]
    return "  ".join(parts)


@click.command()
@click.argument("job_id")
@click.option("--interval", type=seconds("1", high=3600), default=0.5, show_default=True,
              help="Seconds between refreshes.")
@json_option
@url_option
def watch(job_id: str, interval: float, as_json: bool, redis_url: str | None) -> None:
    """Live progress of JOB_ID until it ends (exit 1 if it failed).

    A progress bar on a terminal; one line (or one JSON object with --json) per change otherwise.
    """
    client = cluster_client(redis_url)
    tty = sys.stdout.isatty() and not as_json
    last = None
    width = 0
    warned = False
    while True:
        st = _with_gap(client.status(job_id))
        if st["status"] == JobStatus.QUEUED.value and not warned:
            missing = client.missing_service()
            if missing:
                click.echo(f"warning: {missing}; job {job_id} waits in the queue", err=True)
                warned = True
        workers = len(client.workers())
        key = (st["status"], st["best_length"], st["round"], workers)
        final = JobStatus(st["status"]).is_final
        if tty:
            line = _bar_line(st, workers)
            click.echo("\r" + line.ljust(width), nl=False)
            width = len(line)
        elif (key != last or final) and as_json:
            _emit({**st, "workers": workers})
        elif key != last or final:
            click.echo(_bar_line(st, workers))
        last = key
        if final:
            break
        time.sleep(interval)
    if tty:
        click.echo()
    if st["status"] == JobStatus.FAILED.value:
        raise JobFailedError(f"job {job_id} failed: {st['error'] or 'no reason given'}")


@click.command()
@click.argument("job_id")
@click.option("--out", "out", type=click.Path(dir_okay=False), default=None,
              help="Write the tour: .tour (TSPLIB), .json or .csv by extension.")
@json_option
@url_option
def result(job_id: str, out: str | None, as_json: bool, redis_url: str | None) -> None:
    """Print (or write) JOB_ID's best tour; a running job gives its best so far."""
    from tsp_celery.output import output_format, write_result

    if out is not None:
        try:
            output_format(out)
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    client = cluster_client(redis_url)
    res = client.result(job_id)
    if out is not None:
        instance = client.store.record(job_id)["instance"]
        write_result(res, out, client.store.load_problem(instance))
    if res.stats.get("status") != JobStatus.DONE.value:
        click.echo(f"note: job {job_id} is {res.stats.get('status')}; this is its best tour "
                   "so far", err=True)
    if as_json:
        _emit(res.to_dict())
    else:
        click.echo(res.summary())
        if out is not None:
            click.echo(f"wrote {out}")


@click.command()
@click.argument("job_id")
@json_option
@url_option
def cancel(job_id: str, as_json: bool, redis_url: str | None) -> None:
    """Cancel JOB_ID: a queued job at once, a running one within its current round."""
    st = cluster_client(redis_url).cancel(job_id)
    if as_json:
        _emit({"job_id": job_id, "status": st})
    elif st == JobStatus.RUNNING.value:
        click.echo(f"job {job_id}: cancel requested; it stops within its current round")
    else:
        click.echo(f"job {job_id}: {st}")


@click.command()
@click.option("--limit", type=count(1, 10_000, "20"), default=50, show_default=True,
              help="How many jobs to list.")
@click.option("--purge", is_flag=True,
              help="Apply retention now: forget expired jobs, expire old finished ones.")
@json_option
@url_option
def jobs(limit: int, purge: bool, as_json: bool, redis_url: str | None) -> None:
    """List recent jobs, newest first."""
    client = cluster_client(redis_url)
    if purge:
        done = client.store.purge(limit=1_000_000)
        click.echo(f"purged: {done['forgotten']} expired job(s) forgotten, {done['expiring']} "
                   f"finished job(s) put on the retention clock", err=True)
    rows = [_with_gap(st) for st in client.jobs(limit)]
    if as_json:
        _emit(rows)
        return
    click.echo(f"{'job':<22} {'status':<9} {'name':<14} {'n':>7} {'best':>12} {'gap%':>7} "
               f"{'round':>5} {'elapsed':>8}")
    for st in rows:
        gap = "-" if st["gap_pct"] is None else f"{st['gap_pct']:.2f}"
        click.echo(f"{st['job_id']:<22} {st['status']:<9} {_clip(str(st['name']), 14):<14} "
                   f"{st['n']:>7} {_fmt(st['best_length']):>12} {gap:>7} {st['round']:>5} "
                   f"{st['elapsed']:>7.1f}s")


@click.command()
@json_option
@url_option
def workers(as_json: bool, redis_url: str | None) -> None:
    """List live workers: slots and the units they run now."""
    rows = cluster_client(redis_url).workers()
    if as_json:
        _emit(rows)
        return
    if not rows:
        click.echo("no live workers")
        return
    click.echo(f"{'worker':<32} {'slots':>5} {'age':>6}  units")
    now = time.time()
    for w in rows:
        units = ", ".join(f"{u.get('job_id')}/{u.get('unit_id') or u.get('task')}"
                          for u in w.get("units", [])) or "-"
        click.echo(f"{w['worker']:<32} {w.get('slots', 1):>5} "
                   f"{now - w.get('seen_at', now):>5.1f}s  {units}")


@click.command()
@click.option("--node-id", default=None, help="Unique id of this coordinator [default: host-pid].")
@click.option("--priority", type=PRIORITY, default=0, show_default=True,
              help="Higher priority wins leadership when the lease is free (-1000..1000).")
@click.option("--max-active", type=count(1, 1_000_000, "4"), default=None,
              help="Jobs run at once [default: one per live worker slot].")
@click.option("--metrics-port", type=count(1, 65535, "9812"), default=None,
              envvar="TSP_CELERY_METRICS_PORT",
              help="Serve Prometheus metrics on this port [default: $TSP_CELERY_METRICS_PORT, "
                   "else off].")
@click.option("--metrics-addr", default="0.0.0.0", show_default=True,
              help="Address the metrics endpoint listens on.")
@click.option("--log-format", type=click.Choice(FORMATS), default=None,
              help="Log lines as text or one JSON object each [default: $TSP_CELERY_LOG_FORMAT "
                   "or text].")
@url_option
def coordinator(node_id: str | None, priority: int, max_active: int | None,
                metrics_port: int | None, metrics_addr: str, log_format: str | None,
                redis_url: str | None) -> None:
    """Run a coordinator: leads (or stands by), admits queued jobs and drives them."""
    import logging

    from tsp_celery.cluster.coordinator import default_node_id, serve

    settings = Settings.from_env(redis_url=redis_url)
    if logging.getLogger().level > logging.INFO:
        logging.getLogger("tsp_celery").setLevel(logging.INFO)
    node_id = node_id or default_node_id()
    set_node(node_id)
    use_format(log_format or _env_log_format())
    serve(settings, node_id, priority, max_active=max_active, metrics_port=metrics_port,
          metrics_addr=metrics_addr)


def _env_log_format() -> str:
    try:
        return format_from_env()
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


commands = [submit, status, watch, result, cancel, jobs, workers, coordinator]
