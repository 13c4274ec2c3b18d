"""Time to first output: how long a user at a terminal waits for `solve` to say something.

Runs each command on a pseudo-terminal (as a user's shell would) and prints the seconds to its
first byte of output, to a given text (e.g. the first round's phase, the job id) and to its
exit. Usage:

    python bench/first_output.py [--runs 3] [--text 'round 0 running'] -- tsp-celery solve FILE ...

Measured for issue 25 on the shared, loaded 2-core machine: a 5,000-node `solve --time 10`
printed nothing for 9.9 s (until its first round ended), now its first line after 0.2-1.0 s;
`solve --cluster` printed its first line after 2.7 s (16 s with no coordinator), now its job id
after 0.7-1.2 s (and the missing coordinator after 0.9 s).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # process helpers

from processes import TerminalRun


def one_run(argv: list[str], text: str | None) -> tuple[float, float | None, float]:
    run = TerminalRun(argv)
    run.finish(3600)
    first = run.chunks[0][0] if run.chunks else float("nan")
    seen, found = "", None
    for at, chunk in run.chunks:
        seen += chunk
        if text and found is None and text in seen:
            found = at
    return first, found, run.chunks[-1][0] if run.chunks else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--text", default=None, help="also time the first output containing it")
    parser.add_argument("argv", nargs="+", help="the command (after --)")
    args = parser.parse_args()
    rows = [one_run(args.argv, args.text) for _ in range(args.runs)]
    for k, (first, found, last) in enumerate(rows, 1):
        shown = "-" if found is None else f"{found:.2f}"
        print(f"run {k}: first output {first:.2f} s, {args.text!r} at {shown} s, "
              f"last output {last:.2f} s")
    print(f"median first output {statistics.median(r[0] for r in rows):.2f} s")


if __name__ == "__main__":
    main()
