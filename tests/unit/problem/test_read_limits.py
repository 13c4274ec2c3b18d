"""Hostile or odd files through the real CLI: warnings for unknown keys, a gzip bomb stopped at
the size limit, line ends and byte-order marks of every kind, tours with CRLF."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tracemalloc

import pytest

from tsp_celery.errors import InstanceError
from tsp_celery.problem import load_problem, read_tour
from tsp_celery.problem.textfile import MAX_INSTANCE_BYTES, read_text

pytestmark = pytest.mark.timeout(60)

FOUR = "1 0 0\n2 3 0\n3 3 4\n4 0 4\n"


def run(*args, cwd=None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tsp_celery", *map(str, args)],
                          capture_output=True, text=True, timeout=50, cwd=cwd)
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def _bomb(path, size: int) -> None:
    """A real gzip bomb: ``size`` bytes of valid-looking node lines, compressed ~1000:1."""
    block = b"1 0 0\n" * (1 << 16)
    with gzip.open(path, "wb", compresslevel=6) as fh:
        fh.write(b"NAME: bomb\nTYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EUC_2D\n"
                 b"NODE_COORD_SECTION\n")
        for _ in range(size // len(block) + 1):
            fh.write(block)


def test_missing_key_error_points_at_the_misspelled_one(tmp_path):
    path = tmp_path / "typo.tsp"
    path.write_text(f"NAME: t\nTYPE: TSP\nEDGE_WEIGHT_TYPE: EUC_2D\nDIMENSON: 4\n"
                    f"NODE_COORD_SECTION\n{FOUR}EOF\n")
    proc = run("solve", path, "--time", "1")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [  # one line: the error says what the warning would
        f"error: {path}:4: missing DIMENSION (the number of nodes); unknown key DIMENSON here: "
        "did you mean DIMENSION?",
    ]


def test_unknown_key_is_a_warning_and_the_solve_goes_on(tmp_path):
    path = tmp_path / "extra.tsp"
    path.write_text(f"NAME: extra\nTYPE: TSP\nDIMENSION: 4\nEDGE_WEIGHT_TYP: EUC_2D\n"
                    f"EDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n{FOUR}EOF\n")
    proc = run("solve", path, "--time", "1")
    assert proc.returncode == 0 and proc.stdout.startswith("extra: length 14")
    assert proc.stderr.splitlines() == [
        f"warning: {path}: line 4: unknown key EDGE_WEIGHT_TYP (did you mean EDGE_WEIGHT_TYPE?)"
        ", ignored"]
    info = run("info", path)
    assert info.returncode == 0
    assert "warning: line 4: unknown key EDGE_WEIGHT_TYP" in info.stdout
    report = json.loads(run("info", "--json", path).stdout)
    assert report["usable"] and report["warnings"] == [
        "line 4: unknown key EDGE_WEIGHT_TYP (did you mean EDGE_WEIGHT_TYPE?), ignored"]


def test_gzip_bomb_stops_at_the_limit_without_decompressing_it_all(tmp_path):
    path = tmp_path / "bomb.tsp.gz"
    _bomb(path, 4 * MAX_INSTANCE_BYTES)
    assert path.stat().st_size < MAX_INSTANCE_BYTES // 100  # a real bomb: tiny on disk
    tracemalloc.start()
    try:
        with pytest.raises(InstanceError) as info:
            read_text(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "larger than 67,108,864 bytes once decompressed" in info.value.message
    assert peak < 1.5 * MAX_INSTANCE_BYTES  # stopped at the cap, not after 256 MB
    proc = run("info", path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {path}: {info.value.message}"


def test_size_limit_applies_to_plain_files_and_is_a_parameter(tmp_path):
    path = tmp_path / "big.tsp"
    path.write_text("NAME: big\n" + "COMMENT: padding\n" * 100 + "DIMENSION: 4\n"
                    f"EDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n{FOUR}")
    with pytest.raises(InstanceError, match="larger than 1,000 bytes: the limit"):
        read_text(path, max_bytes=1000)
    with pytest.raises(InstanceError, match="larger than 1,000 bytes: the limit"):
        load_problem(path, max_bytes=1000)
    assert load_problem(path, max_bytes=path.stat().st_size).n == 4


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_instances_and_tours_read_with_any_line_end_and_bom(tmp_path, newline, bom):
    inst = tmp_path / "four.tsp"
    text = f"NAME: four\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n{FOUR}"
    inst.write_bytes((bom + text).replace("\n", newline).encode())
    tour = tmp_path / "four.tour"
    tour.write_bytes((bom + "TYPE: TOUR\nDIMENSION: 4\nTOUR_SECTION\n1\n2\n3\n4\n-1\n")
                     .replace("\n", newline).encode())
    problem = load_problem(inst)
    assert problem.name == "four" and problem.tour_length(read_tour(tour, 4)) == 14
    proc = run("evaluate", inst, tour)
    assert proc.returncode == 0 and "length 14" in proc.stdout
