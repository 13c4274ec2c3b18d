"""Tour merging by partition crossover (GPX; Whitley, Hains & Howe 2009, with two GPX2 ideas
from Tinós, Whitley & Ochoa 2020).

The union graph of two tours, without the edges both share, falls apart into components. Every
edge leaving a component is shared, so inside a component each parent is a set of paths between
the component's portals (the ends of those shared edges). Where both parents pair the portals
the same way, the component is *feasible*: either parent's paths can be used there without
changing how the rest of the tour connects, so the child takes the cheaper parent in each
feasible component and one parent (the base) everywhere else. As in GPX2, an infeasible
component is still taken from the other parent when the child stays one cycle, tested on the
tour contracted to the components' portals (greedy by gain; components whose runs span
disjoint stretches of the base are independent, so each cluster of overlapping ones is decided
on its own). GPX2's *ghost nodes* split every node whose four union edges are all unshared into
two nodes joined by a shared edge, which cuts the union graph into more, smaller components.
Everything is O(n) numpy plus small per-cluster walks: an 85,900-node crossover takes about a
second on one core.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, depth_first_order

from tsp_celery.problem import Problem


def neighbours(tour: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Successor and predecessor of every node of a closed tour over nodes 0..m-1."""
    succ = np.empty(m, dtype=np.int64)
    pred = np.empty(m, dtype=np.int64)
    succ[tour] = np.roll(tour, -1)
    pred[tour] = np.roll(tour, 1)
    return succ, pred


def same_cycle(tour_a: np.ndarray, tour_b: np.ndarray) -> bool:
    """Whether two closed tours over the same nodes are one cycle (any start, either direction):
    O(n), where a crossover of them costs four GPX passes to find nothing."""
    succ_a, _ = neighbours(tour_a, len(tour_a))
    succ_b, pred_b = neighbours(tour_b, len(tour_b))
    return bool(np.array_equal(succ_a, succ_b) or np.array_equal(succ_a, pred_b))


def _with_ghosts(tour: np.ndarray, ghost_of: np.ndarray) -> np.ndarray:
    """The tour with each ghosted node x followed by its ghost ``ghost_of[x]``."""
    g = ghost_of[tour]
    out = np.empty(len(tour) + int((g >= 0).sum()), dtype=np.int64)
    pos = np.arange(len(tour)) + np.concatenate([[0], np.cumsum(g >= 0)[:-1]])
    out[pos] = tour
    out[pos[g >= 0] + 1] = g[g >= 0]
    return out


def _runs(tour: np.ndarray, lab: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The tour rotated to start a component run, and each run's (label, first, last) node."""
    lt = lab[tour]
    starts = np.flatnonzero(lt != np.roll(lt, 1))
    if len(starts) == 0:
        starts = np.zeros(1, dtype=np.int64)             # one label everywhere: one run
    tour = np.roll(tour, -starts[0])
    starts = starts - starts[0]
    ends = np.append(starts[1:], len(tour)) - 1
    return tour, lab[tour[starts]], np.stack([tour[starts], tour[ends]], axis=1)


def _inside_cost(problem: Problem, orig: np.ndarray, tour: np.ndarray, lab: np.ndarray,
                 ncomp: int) -> np.ndarray:
    """Per component, the length of the tour's edges inside it."""
    nxt = np.roll(tour, -1)
    inside = (lab[tour] == lab[nxt]) & (lab[tour] >= 0)
    u, v = orig[tour[inside]], orig[nxt[inside]]
    d = np.where(u == v, 0, problem.distances(u, v))     # ghost edges are free
    return np.bincount(lab[tour[inside]], weights=d, minlength=ncomp)


def _feasible(lab_a: np.ndarray, ends_a: np.ndarray, lab_b: np.ndarray, ends_b: np.ndarray,
              ncomp: int) -> np.ndarray:
    """Components in which both parents join the same pairs of portals."""
    keep_a, keep_b = lab_a >= 0, lab_b >= 0
    rows = np.concatenate([
        np.column_stack([lab_a[keep_a], np.sort(ends_a[keep_a], axis=1)]),
        np.column_stack([lab_b[keep_b], np.sort(ends_b[keep_b], axis=1)]),
    ])
    rows = rows[np.lexsort(rows.T[::-1])]
    same = np.all(rows[1:] == rows[:-1], axis=1)
    matched = np.zeros(len(rows), dtype=bool)
    matched[1:] |= same
    matched[:-1] |= same
    ok = np.ones(ncomp, dtype=bool)
    ok[rows[~matched, 0]] = False
    return ok


def _one_cycle(a_runs: list[tuple[int, int]], b_pairs: list[tuple[int, int]]) -> bool:
    """Is a's tour, with b's paths instead of a's runs ``a_runs`` (in a's order), one cycle?

    Contracted to the runs' portals: a's outside segments link each run's end to the next
    run's start, b's paths pair the portals inside; Hamiltonian iff that is a single cycle.
    """
    link = {}
    for (_, end), (start, _) in zip(a_runs, a_runs[1:] + a_runs[:1], strict=True):
        link[end], link[start] = start, end
    pair = {}
    for x, y in b_pairs:
        pair[x], pair[y] = y, x
    x, steps = a_runs[0][0], 0
    while True:
        x = link[pair[x]]
        steps += 1
        if x == a_runs[0][0]:
            return steps == len(a_runs)


def _take_b(runs_a: tuple[np.ndarray, np.ndarray], runs_b: tuple[np.ndarray, np.ndarray],
            ok: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """Components where the child (on base a) uses b's paths.

    Every feasible one where b is cheaper; then infeasible ones where b is cheaper, greedily by
    gain while the child stays one cycle. Components whose runs span disjoint stretches of a
    cannot interfere, so each cluster of overlapping spans is decided on its own.
    """
    (lab_a, ends_a), (lab_b, ends_b) = runs_a, runs_b
    take = ok & (gain > 0)
    cand = ~ok & (gain > 0)
    pos = np.flatnonzero(cand[lab_a])          # candidate runs, in a's order
    if len(pos) == 0:
        return take
    comps = np.unique(lab_a[pos])
    first = np.full(len(ok), len(lab_a))
    last = np.full(len(ok), -1)
    np.minimum.at(first, lab_a[pos], pos)
    np.maximum.at(last, lab_a[pos], pos)
    comps = comps[np.argsort(first[comps], kind="stable")]
    reach = np.maximum.accumulate(last[comps])
    cluster = np.cumsum(np.concatenate([[0], first[comps][1:] > reach[:-1]]))
    a_runs = _runs_by_label(lab_a[pos], ends_a[pos])
    b_pairs = _runs_by_label(lab_b[cand[lab_b]], ends_b[cand[lab_b]])
    for members in np.split(comps, np.flatnonzero(np.diff(cluster)) + 1):
        chosen: list[int] = []
        for c in members[np.argsort(-gain[members], kind="stable")].tolist():
            trial = [*chosen, c]
            runs = sorted(r for k in trial for r in a_runs[k])
            if _one_cycle([r[1:] for r in runs], [p[1:] for k in trial for p in b_pairs[k]]):
                chosen = trial
        take[chosen] = True
    return take


def _runs_by_label(lab: np.ndarray, ends: np.ndarray) -> dict[int, list]:
    """Runs grouped by label, each as (index, first, last) in the given order."""
    out: dict[int, list] = {}
    for i, (c, (x, y)) in enumerate(zip(lab.tolist(), ends.tolist(), strict=True)):
        out.setdefault(c, []).append((i, x, y))
    return out


def _child(a: np.ndarray, b: np.ndarray, m: int, take_b: np.ndarray) -> np.ndarray | None:
    """Tour over 0..m-1 using b's neighbours at nodes where ``take_b``, a's elsewhere.

    None unless the result is one Hamiltonian cycle (symmetric, degree 2, connected).
    """
    sa, pa = neighbours(a, m)
    sb, pb = neighbours(b, m)
    n1 = np.where(take_b, sb, sa)
    n2 = np.where(take_b, pb, pa)
    nodes = np.arange(m)
    symmetric = ((n1[n1] == nodes) | (n2[n1] == nodes)) & ((n1[n2] == nodes) | (n2[n2] == nodes))
    if not symmetric.all() or np.any(n1 == n2):
        return None
    graph = csr_matrix((np.ones(2 * m), (np.repeat(nodes, 2), np.column_stack([n1, n2]).ravel())),
                       shape=(m, m))
    order = depth_first_order(graph, 0, directed=False, return_predecessors=False)
    return order if len(order) == m else None


def _gpx(problem: Problem, a: np.ndarray, b: np.ndarray, ghosts: bool) -> np.ndarray | None:
    """The best child of one partition crossover of a and b, or None if none is found."""
    n = problem.n
    sa, pa = neighbours(a, n)
    sb, pb = neighbours(b, n)
    orig = np.arange(n)
    m = n
    if ghosts:
        lonely = (sa != sb) & (sa != pb) & (pa != sb) & (pa != pb)
        ghost_of = np.full(n, -1, dtype=np.int64)
        ghost_of[lonely] = n + np.arange(int(lonely.sum()))
        a, b = _with_ghosts(a, ghost_of), _with_ghosts(b, ghost_of)
        m = len(a)
        orig = np.concatenate([orig, np.flatnonzero(lonely)])
        sa, pa = neighbours(a, m)
        sb, pb = neighbours(b, m)
    # edges of a that b lacks, and of b that a lacks, make the reduced union graph
    only_a = (sa != sb) & (sa != pb)
    only_b = (sb != sa) & (sb != pa)
    src = np.concatenate([np.flatnonzero(only_a), np.flatnonzero(only_b)])
    dst = np.concatenate([sa[only_a], sb[only_b]])
    if len(src) == 0:
        return None                                      # identical tours
    ncomp, lab = connected_components(
        csr_matrix((np.ones(len(src)), (src, dst)), shape=(m, m)), directed=False)
    touched = np.zeros(m, dtype=bool)
    touched[src] = touched[dst] = True
    lab = np.where(touched, lab, -1)                     # nodes with only shared edges
    if np.all(lab == lab[0]):
        return None                                      # one component: nothing to recombine
    a, lab_a, ends_a = _runs(a, lab)
    b, lab_b, ends_b = _runs(b, lab)
    ok = _feasible(lab_a, ends_a, lab_b, ends_b, ncomp)
    gain = _inside_cost(problem, orig, a, lab, ncomp) - _inside_cost(problem, orig, b, lab, ncomp)
    keep_a, keep_b = lab_a >= 0, lab_b >= 0
    take_b = _take_b((lab_a[keep_a], ends_a[keep_a]), (lab_b[keep_b], ends_b[keep_b]), ok, gain)
    if not take_b.any():
        return None                                      # the child is a
    order = _child(a, b, m, np.where(lab >= 0, take_b[lab], False))
    if order is None:
        return None
    return orig[order[order < n]] if ghosts else order


def partition_crossover(problem: Problem, tour_a: np.ndarray, tour_b: np.ndarray) -> np.ndarray:
    """The shortest partition-crossover child of two tours; never longer than the better one.

    Runs plain GPX on the better parent as base, GPX with ghost nodes against both orientations
    of the other parent, and plain GPX on the worse parent as base; a child counts only once it
    is checked to be a permutation and measured shorter than the better parent.
    """
    a = problem.validate_tour(tour_a)
    b = problem.validate_tour(tour_b)
    la, lb = problem.tour_length(a), problem.tour_length(b)
    if lb < la:
        a, b, la, lb = b, a, lb, la
    best, best_len = a, la
    if problem.n < 5 or same_cycle(a, b):
        return best.copy()  # identical tours share every edge: GPX would find no component
    for ghosts, base, other in ((False, a, b), (True, a, b), (True, a, b[::-1].copy()),
                                (False, b, a)):
        child = _gpx(problem, base, other, ghosts)
        if child is None or len(child) != problem.n:
            continue
        child = problem.validate_tour(child)
        if (length := problem.tour_length(child)) < best_len:
            best, best_len = child, length
    return best.copy()


def merge_tours(problem: Problem, tours: list[np.ndarray] | tuple[np.ndarray, ...],
                max_passes: int = 4) -> np.ndarray:
    """Merge a pool: cross the best tour with every other one, keeping each better child,
    and repeat while a pass improves (at most ``max_passes``).

    A tour already crossed with the current best is not crossed again: the crossover is
    deterministic, so it would give the same child, not shorter. A pass that improves early
    therefore repeats only the crossovers before its last improvement (same tour, less time).
    """
    if len(tours) == 0:
        raise ValueError("Expected at least one tour to merge.")
    pool = sorted((problem.validate_tour(t) for t in tours), key=problem.tour_length)
    best, best_len = pool[0], problem.tour_length(pool[0])
    version = 0  # how many times best changed
    crossed = [-1] * len(pool)  # the version of best each tour was last crossed with
    for _ in range(max_passes):
        improved = False
        for i in range(1, len(pool)):
            if crossed[i] == version:
                continue
            crossed[i] = version
            child = partition_crossover(problem, best, pool[i])
            if (length := problem.tour_length(child)) < best_len:
                best, best_len, improved, version = child, length, True, version + 1
        if not improved:
            break
    return best.copy()
