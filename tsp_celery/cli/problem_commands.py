"""CLI commands about instances and tours: ``info``, ``evaluate``, ``generate``.

Errors in files are raised as InstanceError and turned into one ``error:`` line with exit code 2
by ``tsp_celery.cli.main``. ``info`` does the same for what is no text file at all (missing, a
directory, empty, binary), but reports a text file that is no usable instance (ATSP, malformed)
as ``usable: no`` with the reason, still exiting 2.
"""

from __future__ import annotations

import json
import sys

import click

from tsp_celery.cli.instance import load_instance
from tsp_celery.cli.options import SEED, count
from tsp_celery.errors import EXIT_USAGE
from tsp_celery.problem import generate as make_instance
from tsp_celery.problem import known_optimum, read_tour, write_tsplib
from tsp_celery.problem.generate import KINDS
from tsp_celery.problem.info import describe


def _number(value: int | float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.6f}".rstrip("0").rstrip(".")


def _bbox_text(bbox: dict | None, edge_weight_type: str | None) -> str:
    if bbox is None:
        return "none (explicit distance matrix without display coordinates)"
    axes = zip("xyz", bbox["min"], bbox["max"], strict=False)
    text = ", ".join(f"{a} {_number(lo)}..{_number(hi)}" for a, lo, hi in axes)
    if edge_weight_type == "EXPLICIT":  # the distances come from the matrix, not from these
        text += " (display coordinates)"
    return text


@click.command()
@click.argument("file", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def info(file: str, as_json: bool) -> None:
    """Describe an instance FILE: name, distance type, size, bounding box, known optimum.

    An instance that cannot be solved (unsupported type, malformed) is reported as
    "usable: no" with the reason, and the exit code is 2.
    """
    report = describe(file)
    if as_json:
        click.echo(json.dumps(report))
    else:
        opt = report["optimum"]
        lines = [
            ("file", report["path"]),
            ("name", report["name"]),
            ("type", report["type"] or "unknown"),
            ("n", report["n"] if report["n"] is not None else "unknown"),
            ("comment", report["comment"] or "-"),
            ("bbox", _bbox_text(report["bbox"], report["type"]) if report["usable"] else "-"),
            ("optimum", f"{opt} (proven, TSPLIB)" if opt is not None else "not known"),
            ("usable", "yes" if report["usable"] else f"no: {report['reason']}"),
            *(("warning", w) for w in report["warnings"]),
        ]
        for key, value in lines:
            click.echo(f"{key + ':':9}{value}")
    if not report["usable"]:
        sys.exit(EXIT_USAGE)


@click.command()
@click.argument("file", type=click.Path())
@click.argument("tour", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def evaluate(file: str, tour: str, as_json: bool) -> None:
    """Check that TOUR (a TSPLIB .tour file) visits every node of FILE once; print its length."""
    problem = load_instance(file)
    order = read_tour(tour, problem.n)
    length = problem.tour_length(order)
    optimum = known_optimum(problem.name, problem.n)
    gap = None if optimum is None else 100.0 * (length - optimum) / optimum
    if as_json:
        click.echo(json.dumps({
            "name": problem.name, "n": problem.n, "valid": True, "length": length,
            "optimum": optimum, "gap_pct": gap,
        }))
        return
    known = "" if optimum is None else f"  (optimum {optimum}, gap {gap:.4f} %)"
    click.echo(f"{problem.name}: valid tour of {problem.n} nodes, length {_number(length)}{known}")


@click.command()
@click.option("--kind", type=click.Choice(KINDS), default="uniform", show_default=True,
              help="Uniform points, or normal clusters around n/10 centres.")
@click.option("--n", "n", type=count(3, 10_000_000, "1000"), required=True,
              help="Number of nodes (3 to 10,000,000).")
@click.option("--seed", type=SEED, default=0, show_default=True,
              help="Random seed: the same seed gives the same instance.")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="Output TSPLIB file [default: NAME.tsp, e.g. uniform1000s0.tsp].")
def generate(kind: str, n: int, seed: int, out: str | None) -> None:
    """Generate a random EUC_2D instance (integer coordinates in a 1,000,000 square)."""
    problem = make_instance(kind, n, seed)
    path = out or f"{problem.name}.tsp"
    write_tsplib(problem, path)
    click.echo(f"wrote {path}: {problem.name} ({kind}, n = {n}, seed = {seed}, EUC_2D)")


commands: list[click.Command] = [info, evaluate, generate]
