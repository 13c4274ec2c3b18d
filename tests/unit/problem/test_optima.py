"""Known optima and the info report."""

from __future__ import annotations

import pytest

from tsp_celery.errors import InstanceError
from tsp_celery.problem import known_optimum
from tsp_celery.problem.info import KEYS, describe

pytestmark = pytest.mark.timeout(10)


def test_known_optimum_needs_name_and_size_to_match():
    assert known_optimum("pcb442", 442) == 50778
    assert known_optimum("ulysses22.tsp", 22) == 7013  # the file's own NAME line
    assert known_optimum("KROA100", 100) == 21282
    assert known_optimum("pcb442", 441) is None  # a subset of pcb442 is another instance
    assert known_optimum("uniform1000s1", 1000) is None


def test_shared_optima_table_is_copied(data_dir):
    # tests/data holds copies of ../shared/tsplib files; their optima must be in the table.
    for name, opt in {"burma14": 3323, "gr17": 2085, "si175": 21407, "dsj1000": 18660188,
                      "a280": 2579, "att48": 10628}.items():
        assert known_optimum(name, int("".join(c for c in name if c.isdigit()))) == opt


def test_describe_usable_instance(data_dir):
    report = describe(data_dir / "berlin52.tsp")
    assert tuple(report) == KEYS
    assert report["usable"] is True and report["reason"] is None
    assert (report["name"], report["type"], report["n"], report["optimum"]) == (
        "berlin52", "EUC_2D", 52, 7542
    )
    assert report["bbox"] == {"min": [25, 5], "max": [1740, 1175]}


def test_describe_explicit_instance_has_no_bbox(data_dir):
    report = describe(data_dir / "gr17.tsp")
    assert report["bbox"] is None and report["type"] == "EXPLICIT" and report["optimum"] == 2085


def test_describe_unusable_instance_keeps_header_facts(tmp_path):
    path = tmp_path / "a.atsp"
    path.write_text("NAME: br17\nTYPE: ATSP\nDIMENSION: 17\nEDGE_WEIGHT_TYPE: EXPLICIT\n"
                    "EDGE_WEIGHT_FORMAT: FULL_MATRIX\nEDGE_WEIGHT_SECTION\n0 1\n")
    report = describe(path)
    assert tuple(report) == KEYS
    assert report["usable"] is False
    assert report["reason"].startswith("line 2: TYPE ATSP (asymmetric) is not supported")
    assert (report["name"], report["type"], report["n"]) == ("br17", "EXPLICIT", 17)


def test_describe_refuses_what_is_no_text_file(tmp_path):
    with pytest.raises(InstanceError, match="no such file"):
        describe(tmp_path / "missing.tsp")
