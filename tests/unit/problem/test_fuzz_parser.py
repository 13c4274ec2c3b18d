"""Fuzzing the readers: whatever the text or bytes, the result is a valid problem (or tour) or
our InstanceError, never another exception. Inputs are near-TSPLIB (valid files with one
mutation, keyword soup with random line ends and BOMs) as well as raw text and bytes."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
from fuzzing import fuzz_settings, fuzz_timeout
from hypothesis import given
from hypothesis import strategies as st

from tsp_celery.errors import InstanceError
from tsp_celery.problem import load_problem, read_tour
from tsp_celery.problem.distance import FUNCTIONS
from tsp_celery.problem.limits import EXACT_LENGTH_LIMIT, MAX_ABS_COORDINATE
from tsp_celery.problem.load import parse_problem
from tsp_celery.problem.matrix_formats import FORMATS, entry_count
from tsp_celery.problem.tsplib_scan import KNOWN_KEYS, KNOWN_SECTIONS

pytestmark = pytest.mark.timeout(fuzz_timeout(90))

TSPLIB_TYPES = sorted(t for t in FUNCTIONS if t != "EUC_FLOAT")
ODD_NUMBERS = ["nan", "-inf", "inf", "1e400", "-1e400", "1.5e+03", "1e9", "1000000001", "0x10",
               "1,5", "--1", "1e", ".", "-0", "", "1_000", "٣", "9" * 30, "2.45000e+05"]
WORDS = [*KNOWN_KEYS, *KNOWN_SECTIONS, "EOF", "DIMENSON", "NODE_COORDS_SECTION", "TSP", "ATSP",
         "TOUR", "EXPLICIT", *TSPLIB_TYPES, *FORMATS, "XRAY1", "FUNCTION", "THREED_COORDS"]

numbers = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=64).map(repr),
    st.sampled_from(ODD_NUMBERS),
)
words = st.one_of(st.sampled_from(WORDS),
                  st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,14}", fullmatch=True))
separators = st.sampled_from([": ", ":", " : ", "\t:\t", " ", "  :", ""])
line_ends = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def valid_instance(draw) -> list[str]:
    """The lines of a valid TSPLIB instance of a random type, n and format."""
    n = draw(st.integers(3, 8))
    kind = draw(st.sampled_from([*TSPLIB_TYPES, "EXPLICIT"]))
    head = [f"NAME: fuzz{n}", "TYPE: TSP", f"DIMENSION: {n}", f"EDGE_WEIGHT_TYPE: {kind}"]
    if kind == "EXPLICIT":
        fmt = draw(st.sampled_from(FORMATS))
        values = draw(st.lists(st.integers(0, 1000), min_size=entry_count(n, fmt),
                               max_size=entry_count(n, fmt)))
        if fmt == "FULL_MATRIX":  # must be symmetric
            m = np.array(values).reshape(n, n)
            values = np.minimum(m, m.T).ravel().tolist()
        body = ["EDGE_WEIGHT_SECTION", " ".join(map(str, values))]
        return [*head, f"EDGE_WEIGHT_FORMAT: {fmt}", *body, "EOF"]
    dim = FUNCTIONS[kind][1]
    coord = st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6))
    rows = [" ".join([str(i + 1), *(repr(draw(coord)) for _ in range(dim))]) for i in range(n)]
    return [*head, "NODE_COORD_SECTION", *rows, "EOF"]


@st.composite
def mutated_instance(draw) -> str:
    """A valid instance with one random mutation, random line ends and maybe a BOM."""
    lines = draw(valid_instance())
    k = draw(st.integers(0, len(lines) - 1))
    mutation = draw(st.sampled_from(["none", "drop", "repeat", "token", "key", "junk"]))
    if mutation == "drop":
        del lines[k]
    elif mutation == "repeat":
        lines.insert(k, lines[k])
    elif mutation == "token":
        tokens = lines[k].split() or [""]
        tokens[draw(st.integers(0, len(tokens) - 1))] = draw(numbers)
        lines[k] = " ".join(tokens)
    elif mutation == "key":
        lines.insert(k, f"{draw(words)}{draw(separators)}{draw(st.one_of(words, numbers))}")
    elif mutation == "junk":
        lines.insert(k, draw(st.text(max_size=30)))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return bom + draw(line_ends).join(lines)


@st.composite
def keyword_soup(draw) -> str:
    """Header lines, sections and numbers in any order: what a broken writer might produce."""
    parts = draw(st.lists(st.one_of(
        st.builds(lambda w, s, v: f"{w}{s}{v}", words, separators, st.one_of(words, numbers)),
        st.lists(numbers, max_size=5).map(" ".join),
        st.sampled_from(["", "EOF", "NODE_COORD_SECTION", "EDGE_WEIGHT_SECTION", "TOUR_SECTION"]),
    ), max_size=25))
    return draw(line_ends).join(parts)


def _check_problem(text: str) -> None:
    try:
        problem = parse_problem(text, "fuzz.tsp")
    except InstanceError as exc:
        assert exc.message and "\n" not in exc.message
        return
    assert problem.n >= 3
    if problem.coords is not None:
        assert np.isfinite(problem.coords).all()
        assert (np.abs(problem.coords) <= MAX_ABS_COORDINATE).all()
    length = problem.tour_length(np.arange(problem.n))
    assert math.isfinite(length) and length >= 0
    if problem.is_integral:
        assert isinstance(length, int) and length < EXACT_LENGTH_LIMIT
    assert problem.submatrix().shape == (problem.n, problem.n)


@fuzz_settings(400)
@given(mutated_instance())
def test_mutated_instances_load_or_fail_cleanly(text):
    _check_problem(text)


@fuzz_settings()
@given(keyword_soup())
def test_keyword_soup_loads_or_fails_cleanly(text):
    _check_problem(text)


@fuzz_settings()
@given(st.text(max_size=300))
def test_any_text_loads_or_fails_cleanly(text):
    _check_problem(text)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@fuzz_settings()
@given(data=st.one_of(st.binary(max_size=300), mutated_instance().map(str.encode)),
       compress=st.booleans())
def test_any_bytes_on_disk_load_or_fail_cleanly(scratch, data, compress):
    path = scratch / "fuzz.tsp"
    path.write_bytes(gzip.compress(data) if compress else data)
    try:
        problem = load_problem(path)
    except InstanceError:
        return
    assert problem.n >= 3


@fuzz_settings()
@given(ids=st.lists(st.one_of(st.integers(-2, 6).map(str), numbers), max_size=8),
       head=st.lists(st.builds(lambda w, s, v: f"{w}{s}{v}", words, separators,
                               st.one_of(words, numbers)), max_size=3),
       end=line_ends)
def test_any_tour_file_reads_or_fails_cleanly(scratch, ids, head, end):
    path = scratch / "fuzz.tour"
    path.write_text(end.join([*head, "TYPE: TOUR", "TOUR_SECTION", *ids, "-1", "EOF"]))
    try:
        tour = read_tour(path, 5)
    except InstanceError:
        return
    assert sorted(tour.tolist()) == list(range(5))
