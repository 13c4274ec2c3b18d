"""The Problem: a symmetric TSP instance, by coordinates and a TSPLIB distance, or by matrix.

Everything downstream (solvers, the cluster store, the CLI) reads distances only through this
class, so the TSPLIB rounding rules live in one place and large instances never need a matrix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from tsp_celery.errors import InstanceError, TourError
from tsp_celery.problem.distance import FLOAT_EUCLIDEAN, FUNCTIONS
from tsp_celery.problem.limits import coordinate_fault, matrix_fault

EXPLICIT = "EXPLICIT"
# Rows per block when a distance matrix is built from coordinates (bounds temporary memory).
_BLOCK_ROWS = 512


@dataclass(frozen=True, eq=False)
class Problem:
    """A symmetric TSP instance.

    Exactly one of ``coords`` (with a coordinate ``edge_weight_type``) or ``matrix`` (with
    ``edge_weight_type == "EXPLICIT"``) defines the distances. ``display`` holds coordinates
    that are only for drawing (TSPLIB DISPLAY_DATA_SECTION). ``warnings`` holds what the reader
    noticed but accepted ("line 4: unknown key DIMENSON (did you mean DIMENSION?), ignored").
    """

    name: str
    edge_weight_type: str
    coords: np.ndarray | None = None
    matrix: np.ndarray | None = None
    comment: str = ""
    display: np.ndarray | None = None
    warnings: tuple[str, ...] = ()
    _hash: list[str] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.edge_weight_type == EXPLICIT:
            if self.matrix is None or self.coords is not None:
                raise ValueError("Expected a matrix and no coords for an EXPLICIT problem.")
            m = self.matrix
            if m.ndim != 2 or m.shape[0] != m.shape[1]:
                raise InstanceError(f"distance matrix must be square, got shape {m.shape}")
            fault = matrix_fault(m.ravel(), m.shape[0])
            if fault:
                raise InstanceError(f"distance matrix: {fault[1]}")
            if not np.array_equal(m, m.T):
                raise InstanceError("distance matrix is not symmetric (ATSP is not supported)")
        else:
            if self.edge_weight_type not in FUNCTIONS:
                raise InstanceError(f"unknown EDGE_WEIGHT_TYPE {self.edge_weight_type!r}")
            if self.coords is None or self.matrix is not None:
                raise ValueError("Expected coords and no matrix for a coordinate problem.")
            dim = FUNCTIONS[self.edge_weight_type][1]
            c = self.coords
            if c.ndim != 2 or (c.shape[1] != dim and self.edge_weight_type != FLOAT_EUCLIDEAN):
                raise InstanceError(
                    f"{self.edge_weight_type} needs {dim} coordinates per node, got {c.shape}"
                )
            fault = coordinate_fault(c)
            if fault:
                raise InstanceError(fault[1] if fault[0] is None else f"row {fault[0]}: {fault[1]}")
        if self.n < 3:
            raise InstanceError(f"a tour needs at least 3 nodes, this instance has {self.n}")

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def from_coords(
        cls, xy: np.ndarray | list, edge_weight_type: str = FLOAT_EUCLIDEAN, name: str = "coords"
    ) -> Problem:
        """A problem from an (n, 2) or (n, 3) array; float Euclidean unless a type is given."""
        return cls(name=name, edge_weight_type=edge_weight_type, coords=np.asarray(xy, float))

    @classmethod
    def from_matrix(cls, m: np.ndarray | list, name: str = "matrix") -> Problem:
        """A problem from a full symmetric (n, n) distance matrix."""
        arr = np.asarray(m)
        if not np.issubdtype(arr.dtype, np.integer):
            arr = arr.astype(float)
            if np.all(np.isfinite(arr)) and np.array_equal(arr, np.round(arr)):
                arr = arr.astype(np.int64)
        return cls(name=name, edge_weight_type=EXPLICIT, matrix=arr)

    # -- basic facts ----------------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Number of nodes."""
        source = self.matrix if self.matrix is not None else self.coords
        assert source is not None
        return int(source.shape[0])

    @property
    def is_integral(self) -> bool:
        """True when every distance is an integer (all TSPLIB types; not plain coordinates)."""
        if self.matrix is not None:
            return bool(np.issubdtype(self.matrix.dtype, np.integer))
        return self.edge_weight_type != FLOAT_EUCLIDEAN

    @property
    def plot_coords(self) -> np.ndarray | None:
        """2-D positions to draw the instance with, or None when it has none."""
        source = self.coords if self.coords is not None else self.display
        return None if source is None else source[:, :2]

    # -- distances ------------------------------------------------------------------------------
    def distances(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Exact lengths of edges (i[k], j[k]), element-wise."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        if self.matrix is not None:
            return self.matrix[i, j]
        assert self.coords is not None
        fn = FUNCTIONS[self.edge_weight_type][0]
        return fn(self.coords[i], self.coords[j])

    def submatrix(self, nodes: np.ndarray | None = None) -> np.ndarray:
        """Full distance matrix between ``nodes`` (all nodes when None), built in row blocks."""
        idx = np.arange(self.n) if nodes is None else np.asarray(nodes, dtype=np.int64)
        if self.matrix is not None:
            return self.matrix[np.ix_(idx, idx)]
        k = len(idx)
        out = np.empty((k, k), dtype=np.int64 if self.is_integral else np.float64)
        for lo in range(0, k, _BLOCK_ROWS):
            rows = idx[lo : lo + _BLOCK_ROWS]
            out[lo : lo + len(rows)] = self.distances(rows[:, None], idx[None, :])
        return out

    def tour_length(self, tour: np.ndarray | list[int]) -> int | float:
        """Exact length of the closed tour (no validation; see ``validate_tour``)."""
        t = np.asarray(tour, dtype=np.int64)
        total = self.distances(t, np.roll(t, -1)).sum()
        return int(total) if self.is_integral else float(total)

    def validate_tour(self, tour: np.ndarray | list[int]) -> np.ndarray:
        """Return the tour as an int64 array, or raise TourError if it is not a permutation."""
        t = np.asarray(tour)
        if t.ndim != 1 or len(t) != self.n:
            raise TourError(f"a tour must visit all {self.n} nodes once, got {t.size} entries")
        if not np.issubdtype(t.dtype, np.integer):
            raise TourError("a tour must hold integer node indices")
        t = t.astype(np.int64)
        seen = np.zeros(self.n, dtype=bool)
        if t.min() < 0 or t.max() >= self.n:
            raise TourError(f"tour holds a node outside 0..{self.n - 1}")
        seen[t] = True
        if not seen.all():
            missing = int(np.flatnonzero(~seen)[0])
            raise TourError(f"tour is not a permutation: node {missing} is missing")
        return t

    def content_hash(self) -> str:
        """SHA-256 of what defines the distances: the instance's identity in the cluster store."""
        if not self._hash:
            h = hashlib.sha256(self.edge_weight_type.encode())
            data = self.matrix if self.matrix is not None else self.coords
            assert data is not None
            arr = np.ascontiguousarray(data, dtype=np.int64 if self.is_integral and
                                       self.matrix is not None else np.float64)
            h.update(str(arr.shape).encode())
            h.update(arr.tobytes())
            self._hash.append(h.hexdigest())
        return self._hash[0]
