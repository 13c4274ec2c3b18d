"""Writing results: each format reads back to the same tour (and length), bad extensions refused."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tsp_celery.output import output_format, write_result
from tsp_celery.problem import Problem, load_problem, read_tour
from tsp_celery.result import Result


@pytest.fixture
def solved(examples_dir):
    problem = load_problem(examples_dir / "berlin52.tsp")
    tour = np.random.default_rng(3).permutation(problem.n)
    result = Result(tour=tour, length=problem.tour_length(tour), name=problem.name,
                    trace=[(0.1, 9000.0), (0.5, float(problem.tour_length(tour)))])
    return problem, result


def test_tour_file_round_trip(tmp_path, solved):
    problem, result = solved
    path = write_result(result, tmp_path / "b.tour", problem)
    assert read_tour(path, problem.n).tolist() == result.tour
    assert f"Length = {int(result.length)}" in path.read_text()


def test_json_round_trip(tmp_path, solved):
    problem, result = solved
    path = write_result(result, tmp_path / "b.json", problem)
    back = Result.from_dict(json.loads(path.read_text()))
    assert back.tour == result.tour
    assert back.length == result.length
    assert back.trace == result.trace


def test_csv_has_node_ids_and_coordinates(tmp_path, solved):
    problem, result = solved
    path = write_result(result, tmp_path / "b.CSV", problem)
    rows = list(csv.DictReader(path.open()))
    assert [int(r["order"]) for r in rows] == list(range(problem.n))
    assert [int(r["node"]) - 1 for r in rows] == result.tour
    first = result.tour[0]
    assert (float(rows[0]["x"]), float(rows[0]["y"])) == tuple(problem.coords[first])


def test_csv_of_matrix_instance_has_no_coordinates(tmp_path):
    problem = Problem.from_matrix([[0, 1, 2], [1, 0, 1], [2, 1, 0]])
    result = Result(tour=[2, 0, 1], length=4)
    path = write_result(result, tmp_path / "m.csv", problem)
    assert path.read_text().splitlines() == ["order,node", "0,3", "1,1", "2,2"]


@pytest.mark.parametrize("name", ["tour.txt", "tour", "tour.png"])
def test_unknown_extension_is_refused_with_the_known_ones(tmp_path, solved, name):
    problem, result = solved
    with pytest.raises(ValueError, match=r"\.tour, \.json, \.csv"):
        write_result(result, tmp_path / name, problem)
    assert not (tmp_path / name).exists()


def test_output_format_is_case_insensitive():
    assert output_format("X.Tour") == ".tour"
