"""``tsp-celery solve FILE``: solve embedded (or on a cluster), print, write files and pictures.

Every file option is checked before the search starts, so a typo costs no solving time.
"""

from __future__ import annotations

from pathlib import Path

import click

from tsp_celery.cli.instance import load_instance
from tsp_celery.cli.options import SEED, TARGET, count, merge_option, seconds
from tsp_celery.cli.progress import ProgressLine
from tsp_celery.errors import TspCeleryError
from tsp_celery.output import output_format, write_result
from tsp_celery.plot import picture_format, plot_tour, plot_trace, require_matplotlib
from tsp_celery.problem import known_optimum


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


@click.command()
@click.argument("file", type=click.Path())
@click.option("--time", "time_s", type=seconds("10"), default=10.0,
              show_default=True, help="Wall-clock budget in seconds.")
@click.option("--workers", type=count(1, 1024, "2"), default=None,
              help="Worker processes (default: all cores).")
@click.option("--seed", type=SEED, default=None,
              help="Seed for the units (default: random, reported in the result).")
@click.option("--target", type=TARGET, default=None,
              help="Stop once a tour this short is found (e.g. a known optimum).")
@click.option("--out", type=click.Path(dir_okay=False), callback=_checked(output_format),
              help="Write the tour: .tour (TSPLIB), .json or .csv.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              callback=_checked(picture_format), help="Draw the tour: .png or .svg.")
@click.option("--plot-trace", "trace_path", type=click.Path(dir_okay=False),
              callback=_checked(picture_format), help="Draw best length over time: .png or .svg.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--cluster", is_flag=False, flag_value="", default=None, metavar="[URL]",
              help="Solve on the cluster behind this Redis URL "
                   "(alone: TSP_CELERY_REDIS_URL). Put it after FILE.")
@merge_option
def solve(file: str, time_s: float, workers: int | None, seed: int | None, target: float | None,
          out: str | None, plot_path: str | None, trace_path: str | None, as_json: bool,
          cluster: str | None, merge: bool) -> None:
    """Solve the instance FILE (TSPLIB .tsp or a coordinate file) within --time seconds.

    Embedded by default: a process pool on this machine, no server needed. The progress line
    (best length, gap to a known optimum, lower bound, elapsed) shows on a terminal only.
    """
    if cluster and "://" not in cluster:
        raise click.BadParameter(f"expected a redis:// URL, got {cluster!r}",
                                 param_hint="--cluster")
    problem = load_instance(file)
    if plot_path or trace_path:
        require_matplotlib()
    if plot_path and problem.plot_coords is None:
        raise TspCeleryError(f"{file}: explicit distance matrix without coordinates: --plot "
                             "cannot draw it (write the tour with --out instead)")
    from tsp_celery.api import solve as solve_problem  # the pool and solver load only here

    optimum = target if target is not None else known_optimum(problem.name, problem.n)
    progress = ProgressLine(time_s, optimum)
    try:
        result = solve_problem(problem, time=time_s, workers=workers, seed=seed, target=target,
                               cluster=cluster, on_progress=progress, merge=merge)
    finally:
        progress.close()
    if out:
        write_result(result, out, problem)
    if plot_path:
        plot_tour(result, problem, plot_path)
    if trace_path:
        plot_trace(result, trace_path)
    click.echo(result.to_json() if as_json else result.summary())


commands = [solve]
