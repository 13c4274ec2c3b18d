"""The bound the solvers run beside the search: Held–Karp first, then branch-and-cut to prove.

For integral problems up to ``LP_MAX_N`` nodes, a short Held–Karp ascent gives a proven
bound early, then ``solver.branch`` raises it towards the optimum (reaching it proves every
tour of that length optimal), starting from a short fast-tsp tour of its own and the caller's
``initial_upper``. Above ``CERTIFY_MAX_N`` nodes a proof is out of reach, but the LP's cuts
still lift the bound above Held–Karp's on most instances. Larger or non-integral problems get
the Held–Karp bound alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from tsp_celery.problem import Problem
from tsp_celery.solver.branch import LISTED_MAX_N, branch_and_cut
from tsp_celery.solver.construct import greedy_tour
from tsp_celery.solver.fasttsp import FastTspEngine
from tsp_celery.solver.held_karp import DENSE_MAX_N, LowerBound, held_karp_bound

# Largest instance branch-and-cut may prove: it lists all pairs (branch.LISTED_MAX_N), to drop
# them by reduced cost.
CERTIFY_MAX_N = LISTED_MAX_N
# Largest instance the LP bound runs on (measured up to fnl4461 by bench/bounds.py).
LP_MAX_N = 5000
# Largest instance whose bound gets the whole search budget: bench/proofs.py proves every
# TSPLIB instance up to a280 but si175 within 10 s, pcb442 in 18-55 s, rat783 in 31-46 s and
# dsj1000 not in 60 (docs/performance.md, "Proofs"). Up to PROOF_LONG_MAX_N nodes, only a job
# of at least PROOF_LONG_MIN_S gives it: in a shorter one the longer schedule only ends on a
# weaker bound (rat783 at 10 s: 8773 instead of 8791).
PROOF_LIKELY_MAX_N = 500
PROOF_LONG_MAX_N = 800
PROOF_LONG_MIN_S = 30.0
METHOD_BRANCH_AND_CUT = "lp branch-and-cut (subtour, blossom and comb cuts, exact dual bound)"
# Beside a search, the bound may use this share of the budget, at most BOUND_BASE_S +
# BOUND_S_PER_NODE * n and BOUND_MAX_S seconds (it runs beside the search and takes a core from
# it), unless a proof is likely (certify_budget): a longer ascent buys next to nothing
# (docs/performance.md, "What the lower bound costs"). It is skipped beyond BOUND_MAX_N nodes;
# beyond DENSE_MAX_N it is only an estimate and gets BOUND_ESTIMATE_SHARE.
BOUND_SHARE = 0.25
BOUND_ESTIMATE_SHARE = 0.15
BOUND_BASE_S = 3.0
BOUND_S_PER_NODE = 0.001
BOUND_MAX_S = 30.0
BOUND_MAX_N = 100_000
_HELD_KARP_SHARE = 0.15     # of the budget (at most _HELD_KARP_S_PER_NODE * n), for a
_HELD_KARP_S_PER_NODE = 0.003   # proven bound before the first LP
_TOUR_SHARE = 0.1           # of the budget (at most _TOUR_MAX_S), for the first incumbent
_TOUR_MAX_S = 2.0


def certifiable(problem: Problem) -> bool:
    """True when branch-and-cut can prove this problem's optimum."""
    return problem.is_integral and 5 <= problem.n <= CERTIFY_MAX_N


def certify_budget(problem: Problem, default_s: float, total_s: float) -> float:
    """The bound's budget beside a search of ``total_s``: nearly all of it where a proof is
    likely to stop the search early, ``default_s`` (the core stays with the search) otherwise."""
    likely = certifiable(problem) and (
        problem.n <= PROOF_LIKELY_MAX_N
        or (problem.n <= PROOF_LONG_MAX_N and total_s >= PROOF_LONG_MIN_S))
    return max(default_s, 0.95 * total_s) if likely else default_s


def bound_budget_s(problem: Problem, total_s: float) -> float | None:
    """Seconds the lower bound gets beside a search of ``total_s`` (None: skipped, too large);
    the same rule embedded and on the cluster."""
    if problem.n > BOUND_MAX_N:
        return None
    share = BOUND_SHARE if problem.n <= DENSE_MAX_N else BOUND_ESTIMATE_SHARE
    default_s = min(share * total_s, BOUND_BASE_S + BOUND_S_PER_NODE * problem.n, BOUND_MAX_S)
    return certify_budget(problem, default_s, total_s)


def certified_bound(problem: Problem, time_budget_s: float, *,
                    initial_upper: float | None = None, tour: np.ndarray | None = None,
                    on_progress: Callable[[LowerBound], None] | None = None) -> LowerBound:
    """A proven lower bound within ``time_budget_s``; equal to the optimum when proven so."""
    t0 = time.monotonic()
    deadline = t0 + time_budget_s
    if not (problem.is_integral and 5 <= problem.n <= LP_MAX_N):
        return held_karp_bound(problem, time_budget_s, initial_upper=initial_upper, tour=tour,
                               on_progress=on_progress)
    held_karp_s = min(_HELD_KARP_SHARE * time_budget_s, _HELD_KARP_S_PER_NODE * problem.n)
    best = held_karp_bound(problem, held_karp_s,
                           initial_upper=initial_upper, tour=tour, on_progress=on_progress)
    upper = None if initial_upper is None else int(initial_upper)
    if upper is not None and best.value >= upper:
        return best
    if tour is None and problem.n > CERTIFY_MAX_N:     # no proof to find: spare the n x n matrix
        tour = greedy_tour(problem)
    elif tour is None:
        search_s = min(_TOUR_MAX_S, _TOUR_SHARE * time_budget_s)
        tour = FastTspEngine().solve(problem.submatrix(), search_s, 0, until_converged=True)

    def lower_bound(value: int, nodes: int) -> LowerBound:
        return LowerBound(value=float(value), proven=True, iterations=nodes,
                          elapsed_s=time.monotonic() - t0, method=METHOD_BRANCH_AND_CUT)

    def report(lower: int, _upper: int) -> None:
        if on_progress is not None and lower > best.value:
            on_progress(lower_bound(lower, 0))

    cert = branch_and_cut(problem, deadline, tour=tour, upper=upper, on_progress=report)
    if cert.lower > best.value:
        return lower_bound(cert.lower, cert.nodes)
    return best
