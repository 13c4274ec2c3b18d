"""Tour merging by partition crossover (GPX; Whitley, Hains & Howe 2009, with two GPX2 ideas
from Tinós, Whitley & Ochoa 2020).

The union graph of two tours, without the edges both share, falls apart into components. Every
edge leaving a component is shared, so inside a component each parent is a set of paths between
the component's portals (the ends of those shared edges). Where both parents pair the portals
the same way, the component is *feasible*: either parent's paths can be used there without
changing how the rest of the tour connects, so the child takes the cheaper parent in each
feasible component and one parent (the base) everywhere else. GPX2's *ghost nodes* split every
node whose four union edges are all unshared into two nodes joined by a shared edge, which cuts
the union graph into more, smaller components; the plain and the ghost variants both run and the
best child wins. Everything is O(n) numpy plus one O(n) walk, so an 85,900-node merge takes a
fraction of a second.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, depth_first_order

from tsp_celery.problem import Problem

# Rounds of fusing infeasible neighbour components (0 turns fusion off).
FUSION_ROUNDS = 3


def _neighbours(tour: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Successor and predecessor of every node of a closed tour over nodes 0..m-1."""
    succ = np.empty(m, dtype=np.int64)
    pred = np.empty(m, dtype=np.int64)
    succ[tour] = np.roll(tour, -1)
    pred[tour] = np.roll(tour, 1)
    return succ, pred


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


def _fuse(a: np.ndarray, b: np.ndarray, lab: np.ndarray, ncomp: int,
          rounds: int = FUSION_ROUNDS) -> tuple[np.ndarray, int, np.ndarray]:
    """GPX2-style fusion: join each infeasible component with the infeasible neighbour it
    meets most often along tour a, and test again; returns labels, count, feasibility."""
    for r in range(rounds + 1):
        _, lab_a, ends_a = _runs(a, lab)
        _, lab_b, ends_b = _runs(b, lab)
        ok = _feasible(lab_a, ends_a, lab_b, ends_b, ncomp)
        seq = lab_a[lab_a >= 0]
        nxt = np.roll(seq, -1)
        pair = ~ok[seq] & ~ok[nxt] & (seq != nxt)
        if r == rounds or not pair.any():
            break
        u = np.concatenate([seq[pair], nxt[pair]])
        v = np.concatenate([nxt[pair], seq[pair]])
        key, count = np.unique(u * ncomp + v, return_counts=True)
        u, v = key // ncomp, key % ncomp
        mate = _greedy_matching(u, v, count, ncomp)
        if not (mate >= 0).any():
            break
        pairs = np.flatnonzero(mate >= 0)
        groups, glab = connected_components(
            csr_matrix((np.ones(len(pairs)), (pairs, mate[pairs])), shape=(ncomp, ncomp)),
            directed=False)
        lab = np.where(lab >= 0, glab[lab], -1)
        ncomp = groups
    return lab, ncomp, ok


def _greedy_matching(u: np.ndarray, v: np.ndarray, weight: np.ndarray, m: int) -> np.ndarray:
    """Greedy matching, heaviest pairs first: mate of each of m nodes, or -1."""
    mate = np.full(m, -1, dtype=np.int64)
    for i in np.argsort(-weight, kind="stable").tolist():
        x, y = int(u[i]), int(v[i])
        if mate[x] < 0 and mate[y] < 0:
            mate[x], mate[y] = y, x
    return mate


def _child(a: np.ndarray, b: np.ndarray, m: int, take_b: np.ndarray) -> np.ndarray | None:
    """Tour over 0..m-1 using b's neighbours at nodes where ``take_b``, a's elsewhere.

    None unless the result is one Hamiltonian cycle (symmetric, degree 2, connected).
    """
    sa, pa = _neighbours(a, m)
    sb, pb = _neighbours(b, m)
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
    sa, pa = _neighbours(a, n)
    sb, pb = _neighbours(b, n)
    orig = np.arange(n)
    m = n
    if ghosts:
        lonely = (sa != sb) & (sa != pb) & (pa != sb) & (pa != pb)
        ghost_of = np.full(n, -1, dtype=np.int64)
        ghost_of[lonely] = n + np.arange(int(lonely.sum()))
        a, b = _with_ghosts(a, ghost_of), _with_ghosts(b, ghost_of)
        m = len(a)
        orig = np.concatenate([orig, np.flatnonzero(lonely)])
        sa, pa = _neighbours(a, m)
        sb, pb = _neighbours(b, m)
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
    a, b = _runs(a, lab)[0], _runs(b, lab)[0]
    lab, ncomp, ok = _fuse(a, b, lab, ncomp)
    cost_a = _inside_cost(problem, orig, a, lab, ncomp)
    cost_b = _inside_cost(problem, orig, b, lab, ncomp)
    # base a or base b: each keeps its own infeasible components, and the cheaper side elsewhere
    base_a = cost_a[~ok].sum() <= cost_b[~ok].sum()
    take_b = ok & (cost_b < cost_a) if base_a else ~ok | (cost_b <= cost_a)
    if not take_b.any() or take_b.all():
        return None                                      # the child is a parent
    order = _child(a, b, m, np.where(lab >= 0, take_b[lab], False))
    if order is None:
        return None
    return orig[order[order < n]] if ghosts else order


def partition_crossover(problem: Problem, tour_a: np.ndarray, tour_b: np.ndarray) -> np.ndarray:
    """The shortest partition-crossover child of two tours; never longer than the better one."""
    a = problem.validate_tour(tour_a)
    b = problem.validate_tour(tour_b)
    best, best_len = (a, problem.tour_length(a))
    if (lb := problem.tour_length(b)) < best_len:
        best, best_len = b, lb
    if problem.n < 5:
        return best.copy()
    for ghosts, other in ((False, b), (True, b), (True, b[::-1].copy())):
        child = _gpx(problem, a, other, ghosts)
        if child is None or len(child) != problem.n:
            continue
        child = problem.validate_tour(child)
        if (length := problem.tour_length(child)) < best_len:
            best, best_len = child, length
    return best.copy()


def merge_tours(problem: Problem, tours: list[np.ndarray] | tuple[np.ndarray, ...],
                max_passes: int = 4) -> np.ndarray:
    """Merge a pool: cross the best tour with every other one, keeping each better child,
    and repeat while a pass improves (at most ``max_passes``)."""
    if len(tours) == 0:
        raise ValueError("Expected at least one tour to merge.")
    pool = sorted((problem.validate_tour(t) for t in tours), key=problem.tour_length)
    best, best_len = pool[0], problem.tour_length(pool[0])
    for _ in range(max_passes):
        improved = False
        for other in pool[1:]:
            child = partition_crossover(problem, best, other)
            if (length := problem.tour_length(child)) < best_len:
                best, best_len, improved = child, length, True
        if not improved:
            break
    return best.copy()
