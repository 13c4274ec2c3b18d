"""Numeric CLI options: a bad value is a usage error that names the option, the range and an
example (exit 2, never a traceback), checked in real subprocesses; and fuzzed in-process with
random values for every numeric option of every command."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest
from click.testing import CliRunner
from fuzzing import fuzz_settings, fuzz_timeout
from hypothesis import given
from hypothesis import strategies as st

from tsp_celery.cli import cli
from tsp_celery.cli.options import Bounded
from tsp_celery.errors import TspCeleryError

pytestmark = pytest.mark.timeout(fuzz_timeout(120))

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: refused at once
MISSING = "no-such-instance.tsp"


@pytest.mark.parametrize("args, says", [
    (["solve", MISSING, "--time", "0"],
     "Invalid value for '--time': must be > 0 and <= 10,000,000 seconds, got '0'; "
     "e.g. --time 10"),
    (["solve", MISSING, "--time", "nan"], "Invalid value for '--time': must be > 0"),
    (["solve", MISSING, "--time", "inf"], "Invalid value for '--time': must be > 0"),
    (["solve", MISSING, "--workers", "-2"],
     "Invalid value for '--workers': must be a whole number from 1 to 1,024, got '-2'"),
    (["solve", MISSING, "--target", "-inf"], "Invalid value for '--target': must be > 0"),
    (["submit", MISSING, "--priority", "1e400"],
     "Invalid value for '--priority': must be a whole number from -1,000 to 1,000, "
     "got '1e400'; e.g. --priority 10"),
    (["submit", MISSING, "--time", "0"], "Invalid value for '--time': must be > 0"),
    (["submit", MISSING, "--stall-rounds", "-1"],
     "Invalid value for '--stall-rounds': must be a whole number from 1 to 1,000,000"),
    (["jobs", "--limit", "-5"], "Invalid value for '--limit': must be a whole number from 1"),
    (["watch", "job", "--interval", "nan"], "Invalid value for '--interval': must be > 0"),
    (["health", "--timeout", "nan"], "Invalid value for '--timeout': must be from 0.1 to 3,600"),
    (["generate", "--n", "1e400"], "Invalid value for '--n': must be a whole number from 3"),
    (["generate", "--n", "5", "--seed", "-1"], "Invalid value for '--seed': must be a whole"),
])
def test_bad_numbers_are_usage_errors_in_a_real_process(tmp_path, args, says):
    proc = subprocess.run([sys.executable, "-m", "tsp_celery", *args], capture_output=True,
                          text=True, timeout=50, cwd=tmp_path)
    assert proc.returncode == 2
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == "" and list(tmp_path.iterdir()) == []


# command -> (fixed arguments that make it end quickly, its numeric options)
COMMANDS = {
    "solve": ([MISSING], ["--time", "--workers", "--seed", "--target", "--stall-rounds"]),
    "submit": ([MISSING, "--redis-url", DEAD_REDIS],
               ["--time", "--target", "--priority", "--seed", "--stall-rounds"]),
    "watch": (["job", "--redis-url", DEAD_REDIS], ["--interval"]),
    "jobs": (["--redis-url", DEAD_REDIS], ["--limit"]),
    "coordinator": (["--redis-url", DEAD_REDIS], ["--priority", "--max-active", "--metrics-port"]),
    "health": (["--redis-url", DEAD_REDIS], ["--min-workers", "--timeout"]),
    "generate": (["-o", "no-such-folder/x.tsp"], ["--n", "--seed"]),
}
values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**30, 10**30).map(str),
    st.sampled_from(["0", "-0", "1", "nan", "inf", "-inf", "1e400", "0x10", "1_000", " 7 ", "",
                     "٣", "1.0", "3e0", "10000000", "10000001", "4294967296", "1001"]),
    st.text(max_size=6),
)


@st.composite
def invocations(draw) -> tuple[str, list[str]]:
    name = draw(st.sampled_from(sorted(COMMANDS)))
    fixed, numeric = COMMANDS[name]
    chosen = draw(st.lists(st.sampled_from(numeric), unique=True, min_size=1))
    args = [*fixed]
    for option in chosen:
        args += [option, draw(values)]
    if name == "generate" and "--n" not in chosen:
        args += ["--n", "3"]
    return name, args


def test_every_numeric_option_is_bounded():
    """The fuzz below covers every numeric option: none is declared with a bare int/float
    (counting flags such as -v/-vv excepted: they take no value)."""
    for name, (_, numeric) in COMMANDS.items():
        declared = [p for p in cli.commands[name].params
                    if isinstance(p.type, (click.types.IntParamType, click.types.FloatParamType,
                                           Bounded)) and not getattr(p, "count", False)]
        assert sorted(p.opts[0] for p in declared) == sorted(numeric)
        assert all(isinstance(p.type, Bounded) for p in declared)


@fuzz_settings(300)
@given(invocations())
def test_random_option_values_parse_to_bounded_numbers_or_a_usage_error(invocation):
    name, args = invocation
    command = cli.commands[name]
    try:
        ctx = command.make_context(name, list(args))
    except click.UsageError as exc:
        assert exc.exit_code == 2 and exc.format_message()
        return
    for param in command.params:
        value = ctx.params.get(param.name)
        if isinstance(param.type, Bounded) and value is not None:
            assert param.type.convert(value, param, ctx) == value  # in range, finite


@fuzz_settings(150)
@given(invocations().filter(lambda inv: inv[0] != "generate"))
def test_random_option_values_never_show_a_traceback(invocation):
    name, args = invocation
    result = CliRunner().invoke(cli, [name, *args])
    # main() turns TspCeleryError into one "error:" line; anything else would be a traceback
    assert result.exception is None or isinstance(result.exception, (SystemExit, TspCeleryError))
    assert "Traceback" not in result.output
    if result.exit_code == 2 and not isinstance(result.exception, TspCeleryError):
        assert "Error:" in result.output
