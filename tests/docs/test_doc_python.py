"""The Python examples in README.md and docs/*.md run.

Each document's ```python blocks run in order, in one fresh interpreter and one shared namespace
(a later block may use what an earlier one defined, as a reader would), in a temporary folder
holding a copy of ``examples/``. ``time=N`` budgets are cut to one second. Blocks marked
``<!-- no-test -->`` (cluster examples that need servers) are skipped.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from doc_helpers import ROOT, Block, blocks, doc_id, doc_paths

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"

# Runs the blocks given as JSON on stdin; reports the first failing block by its doc line.
RUNNER = """
import json, sys, traceback
namespace = {"__name__": "__main__"}
for where, code in json.load(sys.stdin):
    try:
        exec(compile(code, where, "exec"), namespace)
    except BaseException:
        print(f"FAILED at {where}:", file=sys.stderr)
        traceback.print_exc()
        sys.exit(1)
"""


def python_blocks(path: Path) -> list[Block]:
    return [b for b in blocks(path) if b.lang == "python" and b.tested]


def short_budget(code: str) -> str:
    """``time=N`` with N > 1 becomes ``time=1``."""
    return re.sub(r"\btime=(\d+(?:\.\d+)?)",
                  lambda m: "time=1" if float(m.group(1)) > 1 else m.group(0), code)


DOCS = [p for p in doc_paths() if python_blocks(p)]


def test_readme_and_api_docs_have_python_examples():
    assert {"README.md", "api.md", "quickstart.md"} <= {p.name for p in DOCS}


def run_examples(path: Path, cwd: Path) -> subprocess.CompletedProcess:
    shutil.copytree(ROOT / "examples", cwd / "examples")
    payload = [(b.where, short_budget("\n".join(b.lines))) for b in python_blocks(path)]
    env = {**os.environ, "TSP_CELERY_REDIS_URL": UNREACHABLE_REDIS, "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(payload), text=True,
                          cwd=cwd, env=env, capture_output=True, timeout=170)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[Path, subprocess.CompletedProcess]:
    """Every doc's examples, the docs side by side, each in its own interpreter and folder."""
    with ThreadPoolExecutor(max_workers=len(DOCS)) as pool:
        futures = {p: pool.submit(run_examples, p, tmp_path_factory.mktemp(p.stem)) for p in DOCS}
        return {p: f.result() for p, f in futures.items()}


@pytest.mark.timeout(200)
@pytest.mark.parametrize("path", DOCS, ids=doc_id)
def test_python_examples_run(path: Path, outcomes: dict[Path, subprocess.CompletedProcess]):
    proc = outcomes[path]
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_short_budget_rewrites_only_long_budgets():
    assert short_budget("solve(p, time=5)") == "solve(p, time=1)"
    assert short_budget("solve(p, time=0.5, max_time=9)") == "solve(p, time=0.5, max_time=9)"
