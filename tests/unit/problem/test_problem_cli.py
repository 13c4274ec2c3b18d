"""``tsp-celery info | evaluate | generate`` as a user runs them: real subprocesses, exit codes,
one-line errors and never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from tsp_celery.problem import read_tsplib, write_tour
from tsp_celery.problem.info import KEYS

pytestmark = pytest.mark.timeout(60)

ATSP = ("NAME: br3\nTYPE: ATSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\n"
        "EDGE_WEIGHT_FORMAT: FULL_MATRIX\nEDGE_WEIGHT_SECTION\n0 1 2\n3 0 4\n5 6 0\nEOF\n")
COORDS = "NAME: t\nTYPE: TSP\nDIMENSION: {n}\nEDGE_WEIGHT_TYPE: {kind}\nNODE_COORD_SECTION\n{nodes}"
FOUR = "1 0 0\n2 3 0\n3 3 4\n4 0 4\n"


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "tsp_celery", *map(str, args)],
        capture_output=True, text=True, timeout=50, cwd=cwd,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_info_text(data_dir):
    proc = run("info", data_dir / "berlin52.tsp")
    assert proc.returncode == 0
    out = dict(line.split(":", 1) for line in proc.stdout.strip().splitlines())
    assert {k: v.strip() for k, v in out.items()} == {
        "file": str(data_dir / "berlin52.tsp"), "name": "berlin52", "type": "EUC_2D", "n": "52",
        "comment": "52 locations in Berlin (Groetschel)", "bbox": "x 25..1740, y 5..1175",
        "optimum": "7542 (proven, TSPLIB)", "usable": "yes",
    }


def test_info_json_has_stable_keys(data_dir):
    proc = run("info", "--json", data_dir / "gr17.tsp")
    assert proc.returncode == 0
    report = json.loads(proc.stdout)
    assert tuple(report) == KEYS
    assert report == {
        "path": str(data_dir / "gr17.tsp"), "name": "gr17", "type": "EXPLICIT", "n": 17,
        "comment": "17-city problem (Groetschel)", "bbox": None, "usable": True,
        "reason": None, "optimum": 2085, "warnings": [],
    }


@pytest.mark.parametrize("as_json", [False, True])
def test_info_on_an_unusable_instance_says_why_and_exits_2(tmp_path, as_json):
    path = tmp_path / "br3.atsp"
    path.write_text(ATSP)
    proc = run("info", *(["--json"] if as_json else []), path)
    assert proc.returncode == 2
    reason = "line 2: TYPE ATSP (asymmetric) is not supported: only symmetric TSP (TYPE: TSP) is"
    if as_json:
        report = json.loads(proc.stdout)
        assert (report["usable"], report["reason"], report["n"]) == (False, reason, 3)
    else:
        assert f"usable:  no: {reason}" in proc.stdout


def test_evaluate_prints_exact_length_and_gap(data_dir, tmp_path):
    write_tour(tmp_path / "canon.tour", np.arange(442), "pcb442")
    proc = run("evaluate", data_dir / "pcb442.tsp", tmp_path / "canon.tour")
    assert proc.returncode == 0
    gap = 100 * (221440 - 50778) / 50778
    assert proc.stdout.strip() == (
        f"pcb442: valid tour of 442 nodes, length 221440  (optimum 50778, gap {gap:.4f} %)"
    )
    proc = run("evaluate", "--json", data_dir / "pcb442.tsp", tmp_path / "canon.tour")
    result = json.loads(proc.stdout)
    assert (result["length"], result["optimum"], result["valid"]) == (221440, 50778, True)
    assert result["gap_pct"] == pytest.approx(gap)


def test_evaluate_float_lengths_of_a_coordinate_file(tmp_path):
    (tmp_path / "p.csv").write_text("x,y\n0,0\n1,1\n2,0\n")
    write_tour(tmp_path / "p.tour", np.array([0, 1, 2]), "p")
    proc = run("evaluate", "--json", tmp_path / "p.csv", tmp_path / "p.tour")
    assert json.loads(proc.stdout)["length"] == pytest.approx(2 + 2 * np.sqrt(2))


@pytest.mark.parametrize(
    "body, says",
    [("1 2 3 3 -1", "node id 3 is visited twice"), ("1 2 3 -1", "the tour has 3 nodes"),
     ("1 2 3 9 -1", "node id 9 is outside 1..4")],
)
def test_evaluate_refuses_an_invalid_tour(tmp_path, body, says):
    (tmp_path / "four.tsp").write_text(COORDS.format(n=4, kind="EUC_2D", nodes=FOUR))
    (tmp_path / "bad.tour").write_text(f"TYPE: TOUR\nTOUR_SECTION\n{body}\nEOF\n")
    line = one_error_line(run("evaluate", tmp_path / "four.tsp", tmp_path / "bad.tour"))
    assert line.startswith(f"error: {tmp_path / 'bad.tour'}:") and says in line


# Bad instance files: each must give one "error: <file>..." line and exit code 2.
BAD_FILES = {
    "missing-weight-type": ("t.tsp", "NAME: t\nTYPE: TSP\nDIMENSION: 4\nNODE_COORD_SECTION\n"
                            + FOUR, "missing EDGE_WEIGHT_TYPE"),
    "dimension-mismatch": ("t.tsp", COORDS.format(n=5, kind="EUC_2D", nodes=FOUR),
                           "NODE_COORD_SECTION has 4 nodes but DIMENSION is 5"),
    "nan": ("t.tsp", COORDS.format(n=4, kind="EUC_2D", nodes=FOUR.replace("3 4", "nan 4")),
            "coordinates must be finite"),
    "matrix-count": ("t.tsp", ATSP.replace("ATSP", "TSP").replace("5 6 0", "5 6"),
                     "EDGE_WEIGHT_SECTION has 8 entries, but FULL_MATRIX with DIMENSION 3 needs 9"),
    "atsp": ("t.tsp", ATSP, "only symmetric TSP"),
    "hcp": ("t.tsp", ATSP.replace("ATSP", "HCP"), "HCP (Hamiltonian cycle) is not supported"),
    "cvrp": ("t.tsp", ATSP.replace("ATSP", "CVRP"), "CVRP (vehicle routing) is not supported"),
    "two-nodes": ("t.tsp", COORDS.format(n=2, kind="EUC_2D", nodes="1 0 0\n2 1 1\n"),
                  "at least 3 nodes"),
    "empty": ("t.tsp", "", "file is empty"),
    "binary": ("t.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_instance_is_one_error_line_and_exit_2(tmp_path, case):
    name, content, says = BAD_FILES[case]
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    (tmp_path / "x.tour").write_text("TOUR_SECTION\n1 2 3 -1\n")
    line = one_error_line(run("evaluate", path, tmp_path / "x.tour"))
    assert line.startswith(f"error: {path}") and says in line


@pytest.mark.parametrize("command", ["info", "solve", "submit"])
@pytest.mark.parametrize("what", ["missing", "directory"])
def test_no_file_is_the_same_one_error_line_for_every_command(tmp_path, what, command):
    path = tmp_path / "nope.tsp" if what == "missing" else tmp_path
    line = one_error_line(run(command, path))
    assert line == f"error: {path}: " + (
        "no such file" if what == "missing" else "is a directory, not a file"
    )


def test_generate_writes_a_readable_instance(tmp_path):
    proc = run("generate", "--kind", "clustered", "--n", "200", "--seed", "3",
               "-o", tmp_path / "c.tsp")
    assert proc.returncode == 0
    assert proc.stdout.strip() == (
        f"wrote {tmp_path / 'c.tsp'}: clustered200s3 (clustered, n = 200, seed = 3, EUC_2D)"
    )
    p = read_tsplib(tmp_path / "c.tsp")
    assert (p.name, p.n, p.edge_weight_type) == ("clustered200s3", 200, "EUC_2D")


def test_generate_default_file_name(tmp_path):
    proc = run("generate", "--n", "50", "--seed", "1", cwd=tmp_path)
    assert proc.returncode == 0 and (tmp_path / "uniform50s1.tsp").is_file()


@pytest.mark.parametrize(
    "args, says",
    [(["--n", "2"], "'--n': must be a whole number from 3 to 10,000,000, got '2'"),
     (["--n", "10", "--kind", "spiral"], "'spiral' is not one of 'uniform', 'clustered'"),
     (["--n", "ten"], "'--n': must be a whole number from 3 to 10,000,000, got 'ten'")],
)
def test_generate_refuses_bad_options(tmp_path, args, says):
    proc = run("generate", *args, "-o", tmp_path / "x.tsp")
    assert proc.returncode == 2 and says in proc.stderr
    assert not (tmp_path / "x.tsp").exists()


def test_generate_into_a_missing_folder_is_one_error_line(tmp_path):
    line = one_error_line(run("generate", "--n", "10", "-o", tmp_path / "no" / "x.tsp"))
    assert line.startswith(f"error: {tmp_path / 'no' / 'x.tsp'}: cannot write")


def test_info_of_an_explicit_matrix_with_display_coordinates_shows_what_plot_draws(data_dir):
    proc = run("info", data_dir / "bays29.tsp")  # EXPLICIT, with a DISPLAY_DATA_SECTION
    assert proc.returncode == 0
    assert "bbox:    x 40..1840, y 500..2300 (display coordinates)" in proc.stdout.splitlines()
    proc = run("info", data_dir / "gr17.tsp")  # EXPLICIT, nothing to draw
    assert "bbox:    none (explicit distance matrix without display coordinates)" in proc.stdout
