"""Instances: the Problem model, exact TSPLIB distances, file formats and generators."""

from tsp_celery.problem.coords import read_coords
from tsp_celery.problem.generate import generate
from tsp_celery.problem.load import load_problem
from tsp_celery.problem.model import EXPLICIT, Problem
from tsp_celery.problem.optima import known_optimum
from tsp_celery.problem.tour_io import read_tour, write_tour
from tsp_celery.problem.tsplib import read_tsplib, write_tsplib

__all__ = [
    "EXPLICIT",
    "Problem",
    "generate",
    "known_optimum",
    "load_problem",
    "read_coords",
    "read_tour",
    "read_tsplib",
    "write_tour",
    "write_tsplib",
]
