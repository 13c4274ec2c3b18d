"""Every file of tests/data/corpus loads or fails exactly as its manifest says.

The corpus holds one small file per variant met in the wild (line ends, byte-order marks,
spacing, key case, scientific notation, repeated COMMENT lines, extra sections, gzip) and per
way a file is truly wrong. Lengths in the manifest were computed outside the package.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tsp_celery.errors import InstanceError
from tsp_celery.problem import known_optimum, load_problem

pytestmark = pytest.mark.timeout(20)

CORPUS = Path(__file__).parents[2] / "data" / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))


def test_manifest_covers_every_corpus_file():
    listed = {entry["file"] for group in MANIFEST.values() for entry in group}
    on_disk = {p.name for p in CORPUS.iterdir() if p.name != "manifest.json"}
    assert listed == on_disk


@pytest.mark.parametrize("entry", MANIFEST["loads"], ids=lambda e: e["file"])
def test_corpus_file_loads(entry):
    problem = load_problem(CORPUS / entry["file"])
    assert (problem.n, problem.edge_weight_type) == (entry["n"], entry["type"])
    assert problem.tour_length(np.arange(problem.n)) == entry["length"]
    assert list(problem.warnings) == entry.get("warnings", [])
    if "comment" in entry:
        assert problem.comment == entry["comment"]
    if "optimum" in entry:
        assert known_optimum(problem.name, problem.n) == entry["optimum"]
    assert (problem.display is not None) == entry.get("display", False)


@pytest.mark.parametrize("entry", MANIFEST["fails"], ids=lambda e: e["file"])
def test_corpus_file_fails_with_line_and_reason(entry):
    path = CORPUS / entry["file"]
    with pytest.raises(InstanceError) as info:
        load_problem(path)
    assert entry["message"] in info.value.message
    assert info.value.line == entry["line"]
    assert str(info.value).startswith(str(path))


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["wi29", "dj38"])
def test_national_instances_solve_to_their_published_optimum(name):
    from tsp_celery.api import solve

    problem = load_problem(CORPUS / f"{name}.tsp")
    optimum = known_optimum(problem.name, problem.n)
    result = solve(problem, time=20, workers=1, seed=1, target=optimum)
    assert result.length == optimum


def test_a_file_of_usa13509s_size_and_style_loads(tmp_path):
    """usa13509 itself is 13,509 lines like ``1 2.45000e+05 5.00000e+04`` under four COMMENTs."""
    head = (CORPUS / "usa_style.tsp").read_text().split("NODE_COORD_SECTION")[0]
    rng = np.random.default_rng(13509)
    xy = rng.integers(0, 500_000, size=(13509, 2)).astype(float)
    rows = [f"{i} {x:.5e} {y:.5e}" for i, (x, y) in enumerate(xy, 1)]
    path = tmp_path / "usa13509.tsp"
    path.write_text(head.replace("DIMENSION : 4", "DIMENSION : 13509").replace("usa4", "usa13509")
                    + "NODE_COORD_SECTION\n" + "\n".join(rows) + "\nEOF\n")
    problem = load_problem(path)
    assert (problem.name, problem.n) == ("usa13509", 13509)
    assert np.array_equal(problem.coords, xy) and problem.warnings == ()
    assert problem.comment.startswith("Cities with population at least 500")
