"""``tsp-celery solve FILE``: solve embedded (or on a cluster), print, write files and pictures.

Every file option is checked before the search starts, so a typo costs no solving time. On the
cluster the job id is printed (stderr) as soon as the job is queued, and Ctrl-C cancels it.
"""

from __future__ import annotations

import itertools
import secrets
import sys
from pathlib import Path

import click

from tsp_celery.cli.instance import load_instance
from tsp_celery.cli.options import SEED, TARGET, count, merge_option, seconds, stall_option
from tsp_celery.cli.progress import ProgressLine
from tsp_celery.errors import TspCeleryError
from tsp_celery.output import output_format, write_result
from tsp_celery.plan.stop import NoImprovement
from tsp_celery.plot import picture_format, plot_tour, plot_trace, require_matplotlib
from tsp_celery.problem import Problem, known_optimum
from tsp_celery.result import Result


def _checked(check):  # click callback: a bad format or folder becomes a usage error up front
    def callback(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is not None:
            try:
                check(value)
            except ValueError as exc:
                raise click.BadParameter(str(exc)) from None
            folder = Path(value).parent
            if not folder.is_dir():
                raise click.BadParameter(f"folder {str(folder)!r} does not exist")
        return value

    return callback


class _SolveCommand(click.Command):
    """Says what to do when ``--cluster`` is given a value (it is a flag: the value would be
    taken for FILE, and click would report a missing FILE or an extra argument)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        for flag, value in itertools.pairwise(args):
            if flag == "--cluster" and _looks_like_a_url(value):
                url = value if "://" in value else "redis://HOST:6379/0"
                raise click.UsageError(f"--cluster takes no value (got {value!r}); name the "
                                       f"Redis with --cluster --redis-url {url}", ctx)
        return super().parse_args(ctx, args)


def _looks_like_a_url(value: str) -> bool:
    """redis://…, or a host such as 'localhost' or 'redis:6379' (no file of that name, and no
    file extension: 'missing.tsp' is a missing FILE, reported as such)."""
    if "://" in value:
        return True
    return not value.startswith("-") and not Path(value).suffix and not Path(value).exists()


@click.command(cls=_SolveCommand)
@click.argument("file", type=click.Path())
@click.option("--time", "time_s", type=seconds("10"), default=10.0,
              show_default=True, help="Wall-clock budget in seconds.")
@click.option("--workers", type=count(1, 1024, "2"), default=None,
              help="Worker processes (default: all cores).")
@click.option("--seed", type=SEED, default=None,
              help="Seed for the units (default: random, reported in the result).")
@click.option("--target", type=TARGET, default=None,
              help="Stop once a tour this short is found (e.g. a known optimum).")
@stall_option
@click.option("--out", type=click.Path(dir_okay=False), callback=_checked(output_format),
              help="Write the tour: .tour (TSPLIB), .json or .csv.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              callback=_checked(picture_format), help="Draw the tour: .png or .svg.")
@click.option("--plot-trace", "trace_path", type=click.Path(dir_okay=False),
              callback=_checked(picture_format), help="Draw best length over time: .png or .svg.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--cluster", is_flag=True,
              help="Solve on the cluster (submit, progress, result) instead of this machine.")
@click.option("--redis-url", default=None,
              help="With --cluster: the cluster's Redis [default: $TSP_CELERY_REDIS_URL or "
                   "redis://localhost:6379/0].")
@click.option("--detach-on-interrupt", is_flag=True,
              help="With --cluster: Ctrl-C leaves the job running (and says how to follow or "
                   "cancel it) instead of cancelling it.")
@merge_option
def solve(file: str, time_s: float, workers: int | None, seed: int | None, target: float | None,
          stall_rounds: int | None, out: str | None, plot_path: str | None,
          trace_path: str | None, as_json: bool, cluster: bool, redis_url: str | None,
          detach_on_interrupt: bool, merge: bool) -> None:
    """Solve the instance FILE (TSPLIB .tsp or a coordinate file) within --time seconds.

    Embedded by default: a process pool on this machine, no server needed. The progress line
    (what runs now, best length, gap to a known optimum, lower bound, elapsed) shows on a
    terminal only.
    """
    if (redis_url or detach_on_interrupt) and not cluster:
        raise click.UsageError("--redis-url and --detach-on-interrupt go with --cluster")
    progress = ProgressLine(time_s)
    try:
        progress.start(f"reading {file}")
        problem = load_instance(file)
        if plot_path or trace_path:
            require_matplotlib()
        if plot_path and problem.plot_coords is None:
            raise TspCeleryError(f"{file}: explicit distance matrix without coordinates: --plot "
                                 "cannot draw it (write the tour with --out instead)")
        progress.optimum = target if target is not None else known_optimum(problem.name,
                                                                           problem.n)
        if cluster:
            result = _solve_on_cluster(problem, progress, redis_url, detach_on_interrupt,
                                       time_s=time_s, seed=seed, target=target,
                                       stall_rounds=stall_rounds, merge=merge)
        else:
            from tsp_celery.api import solve as solve_problem  # the pool loads only here

            progress.restart_clock("starting")
            stop = None if stall_rounds is None else NoImprovement(stall_rounds)
            result = solve_problem(problem, time=time_s, workers=workers, seed=seed,
                                   target=target, on_progress=progress, merge=merge, stop=stop)
    finally:
        progress.close()
    if out:
        write_result(result, out, problem)
    if plot_path:
        plot_tour(result, problem, plot_path)
    if trace_path:
        plot_trace(result, trace_path)
    click.echo(result.to_json() if as_json else result.summary())


def _solve_on_cluster(problem: Problem, progress: ProgressLine, redis_url: str | None,
                      detach_on_interrupt: bool, *, time_s: float, seed: int | None,
                      target: float | None, stall_rounds: int | None, merge: bool) -> Result:
    """Submit, say the job id and what is missing at once, follow the job, fetch the result.
    Ctrl-C cancels the job (or, detaching, leaves it running) and exits 130."""
    from tsp_celery.cli.cluster_commands import cluster_client
    from tsp_celery.cluster.client import NOBODY_HOME_S
    from tsp_celery.cluster.job import JobParams

    client = cluster_client(redis_url)
    params = JobParams(time_s=time_s, target=target, stall_rounds=stall_rounds, merge=merge,
                       seed=secrets.randbelow(2**31) if seed is None else seed)
    job_id = client.submit(problem, params)
    try:  # from the submit on, so that a Ctrl-C right after a message still cancels the job
        progress.restart_clock("queued")
        progress.note(f"job {job_id} queued (Ctrl-C cancels it)")
        missing = client.missing_service()
        if missing:
            progress.note(f"warning: {missing}; the job waits in the queue (cancelled after "
                          f"{NOBODY_HOME_S:g} s without one)")
        client.wait(job_id, progress, give_up_unattended=True)
    except KeyboardInterrupt:
        progress.close()
        if detach_on_interrupt:
            click.echo(f"detached: job {job_id} keeps running; follow it with `tsp-celery watch "
                       f"{job_id}`, stop it with `tsp-celery cancel {job_id}`", err=True)
        else:
            state = client.cancel(job_id)
            stops = "it stops within its current round" if state == "running" else state
            click.echo(f"interrupted: asked the cluster to cancel job {job_id} ({stops})",
                       err=True)
        sys.exit(130)
    return client.result(job_id)


commands = [solve]
