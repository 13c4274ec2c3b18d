"""Worker processes of the embedded engine: the unit pool and the lower-bound process.

The start method is chosen on purpose (``start_method``): 'fork' where it is safe (POSIX and a
caller running a single thread): workers start in milliseconds, share the problem copy-on-write,
and a user's three-line script needs no ``if __name__ == "__main__"`` guard. 'spawn' otherwise
(Windows, macOS defaults aside, or a caller with threads, e.g. a Celery worker or a web server,
where fork can deadlock a child). Either way the problem reaches each worker once, through the
initializer, never with a unit; a unit carries its spec (and, for segment rounds, the base tour
as int32).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from tsp_celery.problem import Problem


def start_method() -> str:
    """'fork' when this process runs a single thread on a system that has fork, else 'spawn'."""
    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "spawn"

_problem: Problem | None = None
_budget: int = 0


def _ignore_sigint() -> None:
    # Ctrl-C belongs to the parent, which stops the search and keeps its best tour; children
    # are ended by the parent instead of each printing a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _init_worker(problem: Problem, matrix_budget_bytes: int) -> None:
    global _problem, _budget
    _ignore_sigint()
    _problem, _budget = problem, matrix_budget_bytes
    import tsp_celery.solver.units  # noqa: F401  (import cost paid during warm-up)


def _ready() -> bool:
    return _problem is not None


def _run_unit(spec: dict[str, Any], base_tour: np.ndarray | None,
              pool: list[np.ndarray]) -> Any:
    from tsp_celery.solver import UnitSpec, run_unit

    assert _problem is not None
    return run_unit(_problem, UnitSpec.from_dict(spec), base_tour, pool=pool,
                    matrix_budget_bytes=_budget)


class UnitPool:
    """A process pool for units, started and warmed up at once, killed (not drained) at exit."""

    def __init__(self, problem: Problem, workers: int, matrix_budget_bytes: int, method: str):
        self.workers = workers
        self._pool = ProcessPoolExecutor(
            workers, mp_context=mp.get_context(method), initializer=_init_worker,
            initargs=(problem, matrix_budget_bytes),
        )
        self._warm = [self._pool.submit(_ready) for _ in range(workers)]

    def wait_ready(self) -> None:
        """Block until every worker has started and imported the solver."""
        for f in self._warm:
            f.result()

    def submit(self, spec: dict[str, Any], base_tour: np.ndarray | None,
               pool: Sequence[np.ndarray] = ()) -> Future:
        """Run a unit on its base tour (pieces) or its pool of tours (union)."""
        tour = None if base_tour is None else np.asarray(base_tour, dtype=np.int32)
        return self._pool.submit(_run_unit, spec, tour,
                                 [np.asarray(t, dtype=np.int32) for t in pool])

    def close(self) -> None:
        """Stop now: queued units are cancelled, running ones (results unwanted) are ended."""
        processes = list(getattr(self._pool, "_processes", {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            with contextlib.suppress(Exception):
                p.terminate()
        for p in processes:
            with contextlib.suppress(Exception):
                p.join(timeout=2)


def _bound_main(problem: Problem, budget_s: float, upper: float | None, conn: Connection,
                nice: int = 0) -> None:
    _ignore_sigint()
    if nice:
        os.nice(nice)
    from tsp_celery.solver.certify import certified_bound

    def send(lb: Any) -> None:
        conn.send(lb.to_dict())

    try:
        send(certified_bound(problem, budget_s, initial_upper=upper, on_progress=send))
    except Exception as exc:  # reported to the parent, which carries on without a bound
        conn.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        conn.close()


class BoundProcess:
    """The Held–Karp bound in its own process beside the search; the best bound so far is kept."""

    def __init__(self, problem: Problem, budget_s: float, upper: float | None, method: str,
                 nice: int = 0):
        """``nice``: added to the process's niceness, so that it yields to the search."""
        ctx = mp.get_context(method)
        self._conn, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_bound_main, args=(problem, budget_s, upper, child, nice),
                                 daemon=True, name="tsp-celery-bound")
        self._proc.start()
        child.close()
        self.best: dict[str, Any] | None = None
        self.error: str | None = None
        self.finished = False

    def poll(self, timeout: float = 0.0) -> dict[str, Any] | None:
        """Read what arrived (waiting up to ``timeout``); the best bound so far, or None."""
        while not self.finished and self._conn.poll(timeout):
            timeout = 0.0
            try:
                msg = self._conn.recv()
            except EOFError:
                self.finished = True
                break
            if "error" in msg:
                self.error = msg["error"]
                continue
            msg["value"] = float(msg["value"])
            if self.best is None or _better(msg, self.best):
                self.best = msg
        return self.best

    def close(self) -> None:
        self.poll()
        if self._proc.is_alive():
            self._proc.terminate()
        self._proc.join(timeout=2)
        self._conn.close()


def _better(new: dict[str, Any], old: dict[str, Any]) -> bool:
    # A proven bound beats an estimate; among equals the larger value wins.
    return (new["proven"], new["value"]) > (old["proven"], old["value"])
