"""Instances in the store: the limits a job's instance is checked against, and reading one back."""

from __future__ import annotations

from tsp_celery.cluster.admission import check_size, parse_params
from tsp_celery.cluster.codec import decode_problem, instance_body, pack_body
from tsp_celery.cluster.job import JobParams
from tsp_celery.cluster.store_base import StoreBase
from tsp_celery.errors import InstanceError
from tsp_celery.problem import Problem


class InstanceStore(StoreBase):
    """Instances, stored once per content hash (by ``SUBMIT``, with their first job)."""

    def check_limits(self, problem: Problem, params: JobParams) -> tuple[bytes, int]:
        """(instance blob, its size decompressed), or JobRefused before anything is written:
        the client's side of the checks the SUBMIT script and admission repeat."""
        parse_params(params.to_dict(), self.settings)
        body = instance_body(problem)
        check_size(self.settings, problem.n, len(body))
        return pack_body(body), len(body)

    def load_problem(self, content_hash: str) -> Problem:
        """The stored instance, inflated with the max_instance_bytes cap."""
        blob = self.redis.get(self.keys.instance(content_hash))
        if blob is None:
            raise InstanceError(f"instance {content_hash[:12]} is not in the store (expired?)")
        return decode_problem(blob, self.settings.max_instance_bytes)
