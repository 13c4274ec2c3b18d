"""Instances: the Problem model, exact TSPLIB distances, file formats and generators."""

from tsp_celery.problem.model import EXPLICIT, Problem

__all__ = ["EXPLICIT", "Problem"]
