"""CI runs what README.md tells a developer to run, and that run guards the coverage floor."""

from __future__ import annotations

import re
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parents[2]
README_COMMANDS = re.compile(r"```bash\n(.*?)```", re.S)


def readme_commands() -> dict[str, str]:
    """The README's first block, {comment: command}: its lines are ``command   # comment``."""
    block = README_COMMANDS.search((ROOT / "README.md").read_text()).group(1)
    pairs = (line.split("#", 1) for line in block.splitlines() if "#" in line)
    return {comment.strip(): command.strip() for command, comment in pairs}


def test_ci_runs_the_readme_test_command():
    test_command = readme_commands()["run the tests"]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines, f".ci/run does not run {test_command!r}"


def test_the_test_command_measures_coverage_against_a_floor_of_at_least_85_percent():
    assert "--cov" in readme_commands()["run the tests"].split()
    config = coverage.Coverage(config_file=str(ROOT / "pyproject.toml"))  # as --cov reads it
    assert "tsp_celery" in config.get_option("run:source")
    assert config.get_option("report:fail_under") >= 85
