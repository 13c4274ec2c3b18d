"""The exception tree: one base, each class says when it is raised and how the CLI exits."""

from __future__ import annotations

# Exit codes of the CLI, documented in docs/user-guide.md.
EXIT_OK = 0
EXIT_JOB_FAILED = 1
EXIT_USAGE = 2
EXIT_CLUSTER_UNREACHABLE = 3


class TspCeleryError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = EXIT_USAGE


class InstanceError(TspCeleryError):
    """Raised when an instance or tour file cannot be read or is invalid."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None):
        self.message = message
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class UnsupportedInstanceError(InstanceError):
    """Raised when a file is valid TSPLIB but of a kind we do not solve (ATSP, HCP, CVRP...)."""


class TourError(TspCeleryError):
    """Raised when a tour is not a permutation of the problem's nodes."""


class LimitExceededError(TspCeleryError):
    """Raised when a submission is larger than the configured limits allow."""


class ClusterError(TspCeleryError):
    """Raised for failures talking to the cluster (Redis, coordinator)."""

    exit_code = EXIT_CLUSTER_UNREACHABLE


class ClusterUnreachableError(ClusterError):
    """Raised when Redis cannot be reached at the configured URL."""

    def __init__(self, url: str, reason: str):
        self.url = url
        super().__init__(f"cannot reach Redis at {url}: {reason}")


class JobNotFoundError(TspCeleryError):
    """Raised when a job id is not known to the cluster."""


class JobLostError(JobNotFoundError):
    """Raised when a job's record is gone because the store lost its data (new epoch)."""

    exit_code = 1  # EXIT_JOB_FAILED: the job will not finish; resubmit it


class JobFailedError(TspCeleryError):
    """Raised when a job ended in the failed state; carries the job's error text."""

    exit_code = EXIT_JOB_FAILED


class StoreRefusedError(ClusterError):
    """Raised when Redis answers but refuses a client's write (out of memory, read-only,
    persistence failing); nothing of the request was kept."""


class FencedWriteError(ClusterError):
    """Raised when a coordinator writes with a term that is no longer the leader's."""


class OptionalDependencyError(TspCeleryError):
    """Raised when a feature needs an optional extra that is not installed."""
