#!/usr/bin/env python
"""The big fuzz run: the hypothesis tests of the readers and of the CLI's numeric options with
many more random examples than CI gives them (CI runs a fixed, modest set in seconds).

Runs pytest on the fuzz tests with TSP_CELERY_FUZZ_EXAMPLES set, so each property gets that
many fresh random examples; a failure prints hypothesis's minimal falsifying example.

    python bench/fuzz.py                     # 2,000 examples per property (a few minutes)
    python bench/fuzz.py --examples 50000    # an overnight run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FUZZ_TESTS = ["tests/unit/problem/test_fuzz_parser.py", "tests/unit/test_cli_numbers.py"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=2000, help="examples per property")
    args = ap.parse_args()
    if args.examples < 1:
        ap.error("--examples must be at least 1")
    env = {**os.environ, "TSP_CELERY_FUZZ_EXAMPLES": str(args.examples)}
    command = [sys.executable, "-m", "pytest", *FUZZ_TESTS, "-k", "fuzz or random",
               "-q", "-p", "no:warnings", "--hypothesis-show-statistics"]
    start = time.monotonic()
    code = subprocess.call(command, cwd=REPO, env=env)
    print(f"{args.examples} examples per property, {time.monotonic() - start:.0f} s, "
          f"{'no failure' if code == 0 else 'FAILED (see the falsifying examples above)'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
