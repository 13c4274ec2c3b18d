"""tsp-celery: a distributed near-optimal Traveling Salesman solver on Celery and Redis."""

from tsp_celery.problem import Problem
from tsp_celery.result import Result

__all__ = ["Problem", "Result"]
