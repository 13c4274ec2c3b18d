"""``tsp-celery solve`` as a user runs it: a real subprocess, its stdout, files and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tsp_celery.problem import generate, read_tour, write_tsplib


def run(*args, timeout=90):
    return subprocess.run([sys.executable, "-m", "tsp_celery", "solve", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.timeout(60)
def test_json_result_and_tour_file(tmp_path, examples_dir):
    out = tmp_path / "b.tour"
    proc = run(examples_dir / "burma14.tsp", "--time", 3, "--json", "--out", out)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["length"] == 3323 and d["proven_optimal"] is True
    assert d["time_to_best"] >= 0 and sorted(d["tour"]) == list(range(14))
    assert d["optimum"] == 3323 and d["gap_pct"] == 0  # known optimum from the TSPLIB table
    assert read_tour(out, 14).tolist() == d["tour"]
    assert proc.stderr == ""  # not a terminal: no progress line


@pytest.mark.timeout(90)
def test_summary_csv_and_pictures(tmp_path, examples_dir):
    csv, png, trace = tmp_path / "t.csv", tmp_path / "t.png", tmp_path / "trace.svg"
    proc = run(examples_dir / "berlin52.tsp", "--time", 3, "--workers", 2, "--seed", 4,
               "--out", csv, "--plot", png, "--plot-trace", trace)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("berlin52: length ")
    assert len(csv.read_text().splitlines()) == 53
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000
    assert b"<svg" in trace.read_bytes()[:1000]


@pytest.mark.timeout(60)
def test_no_merge_still_solves(examples_dir):
    proc = run(examples_dir / "berlin52.tsp", "--time", 2, "--workers", 2, "--no-merge", "--json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert sorted(d["tour"]) == list(range(52)) and d["length"] >= 7542
    assert d["gap_pct"] < 5.0  # the best of the runs, unmerged, is still close


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.tsp"], "no such file"),
        (["{ex}/berlin52.tsp", "--out", "t.txt"], ".tour, .json, .csv"),
        (["{ex}/berlin52.tsp", "--plot", "t.jpg"], ".png or .svg"),
        (["{ex}/gr17.tsp", "--plot", "t.png"], "without coordinates"),
        (["{ex}/berlin52.tsp", "--time", "0"], "--time"),
        (["{ex}/berlin52.tsp", "--workers", "0"], "--workers"),
        (["{ex}/berlin52.tsp", "--cluster", "localhost"], "--cluster --redis-url redis://"),
        (["--cluster", "redis://h:6379/0", "{ex}/berlin52.tsp"],
         "--cluster --redis-url redis://h:6379/0"),
        (["{ex}/berlin52.tsp", "--cluster", "--redis-url", "localhost"], "redis://"),
        (["--cluster", "missing.tsp"], "missing.tsp: no such file"),
        (["{ex}/berlin52.tsp", "--redis-url", "redis://h:6379/0"], "go with --cluster"),
        (["{ex}/berlin52.tsp", "--out", "no/such/folder/t.tour"], "does not exist"),
        (["{ex}/berlin52.tsp", "--plot-trace", "no/such/folder/t.png"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(tmp_path, examples_dir, args, message):
    proc = run(*[a.format(ex=examples_dir) for a in args])
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.timeout(30)
def test_binary_file_is_refused(tmp_path):
    bad = tmp_path / "x.tsp"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00garbage")
    proc = run(bad)
    assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.timeout(60)
def test_unreachable_cluster_exits_3_naming_the_url(examples_dir):
    url = "redis://127.0.0.1:1/0"
    proc = run("--cluster", examples_dir / "berlin52.tsp", "--time", 2, "--redis-url", url)
    assert proc.returncode == 3
    assert url in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_logs_each_round_before_or_after_the_command(examples_dir, where):
    args = ["solve", str(examples_dir / "berlin52.tsp"), "--time", "2", "--workers", "1"]
    args = ["-v", *args] if where == "before" else [*args, "-v"]
    proc = subprocess.run([sys.executable, "-m", "tsp_celery", *args], capture_output=True,
                          text=True, timeout=50)
    assert proc.returncode == 0, proc.stderr
    assert "INFO tsp_celery.local: round 0: 1 of 1 island units back, best " in proc.stderr
    assert proc.stdout.startswith("berlin52: length 7542")


@pytest.mark.timeout(120)
def test_stall_rounds_ends_an_embedded_solve_after_rounds_without_gain(tmp_path):
    """--stall-rounds is NoImprovement: one round without a shorter tour ends a 60 s budget."""
    path = tmp_path / "r120.tsp"
    write_tsplib(generate("uniform", 120, seed=5), path)
    proc = run(path, "--time", 60, "--workers", 1, "--seed", 3, "--stall-rounds", 1, "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["elapsed"] < 40 and result["stats"]["rounds"] >= 2
