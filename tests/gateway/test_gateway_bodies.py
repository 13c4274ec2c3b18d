"""Request bodies to Problems: the CLI's loaders, gzip within the cap, JSON instances."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from tsp_celery.errors import InstanceError, LimitExceededError
from tsp_celery.gateway.bodies import parse_body
from tsp_celery.gateway.jobs import drawing_path
from tsp_celery.problem import load_problem

CAP = 1 << 20


def test_tsplib_text_gives_the_same_problem_as_the_file(data_dir):
    path = data_dir / "berlin52.tsp"
    problem, options = parse_body(path.read_bytes(), "text/plain", "", CAP)
    assert options is None
    assert problem.content_hash() == load_problem(path).content_hash()


@pytest.mark.parametrize(("content_type", "encoding"), [("application/gzip", ""),
                                                        ("text/plain", "gzip")])
def test_gzip_bodies_are_inflated(data_dir, content_type, encoding):
    path = data_dir / "a280.tsp"
    problem, _ = parse_body(gzip.compress(path.read_bytes()), content_type, encoding, CAP)
    assert problem.content_hash() == load_problem(path).content_hash()


def test_gzip_may_not_inflate_past_the_cap():
    bomb = gzip.compress(b"1 2\n" * (CAP // 2))
    with pytest.raises(LimitExceededError, match=f"limit of {CAP} bytes"):
        parse_body(bomb, "text/plain", "gzip", CAP)


def test_plain_coordinates_and_json_coordinates_agree():
    xy = [[0.5, 0], [3, 0.25], [3, 4], [0, 4]]
    text = "\n".join(f"{x} {y}" for x, y in xy).encode()
    from_text, _ = parse_body(text, "text/plain", "", CAP)
    doc = {"coords": xy, "time": 2.5, "bound": True}
    from_json, options = parse_body(json.dumps(doc).encode(), "application/json", "", CAP)
    assert np.array_equal(from_json.coords, from_text.coords)
    assert from_json.edge_weight_type == from_text.edge_weight_type
    assert options.model_fields_set == {"time", "bound"}
    assert (options.time, options.bound) == (2.5, True)


def test_json_matrix():
    problem, _ = parse_body(b'{"matrix": [[0, 2, 9], [2, 0, 6], [9, 6, 0]], "name": "m"}',
                            "application/json; charset=utf-8", "", CAP)
    assert problem.name == "m" and problem.tour_length([0, 1, 2]) == 17


@pytest.mark.parametrize(("body", "message"), [
    (b"", "not valid JSON"),
    (b"[1, 2]", "JSON body"),
    (b'{"matrix": [[0, 1], [1]]}', "JSON body"),
    (b'{"matrix": [[0, 1, 2], [9, 0, 1], [2, 1, 0]]}', "not symmetric"),
])
def test_malformed_json_is_an_instance_error(body, message):
    with pytest.raises(InstanceError, match=message):
        parse_body(body, "application/json", "", CAP)


def test_an_option_out_of_range_in_json_is_a_value_error_like_in_a_query():
    with pytest.raises(ValueError, match="option time: Input should be greater than 0"):
        parse_body(b'{"coords": [[0, 0], [1, 1], [2, 0]], "time": -1}', "application/json",
                   "", CAP)


def test_drawing_path_is_decimated_along_the_tour():
    xy = np.arange(20_000, dtype=float).reshape(10_000, 2)
    tour = np.roll(np.arange(10_000), 7)
    path = drawing_path(xy, tour, 4000)
    assert 3000 < len(path) <= 4000
    assert path[0] == xy[tour[0]].tolist() and path[1] == xy[tour[3]].tolist()
    assert drawing_path(xy[:50], np.arange(50), 4000) == xy[:50].tolist()
