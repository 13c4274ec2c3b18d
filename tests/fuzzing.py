"""How hard the hypothesis fuzz tests try: a modest number of examples in CI (deterministic, so
CI never flakes on a new example), many more from ``bench/fuzz.py`` through
``TSP_CELERY_FUZZ_EXAMPLES`` (random, so every run explores new inputs)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("TSP_CELERY_FUZZ_EXAMPLES", "0")) or None
CI_EXAMPLES = 150


def fuzz_settings(ci_examples: int = CI_EXAMPLES) -> settings:
    """Settings for one fuzz test: ``ci_examples`` in CI, FUZZ_EXAMPLES when that is set."""
    return settings(
        max_examples=FUZZ_EXAMPLES or ci_examples,
        derandomize=FUZZ_EXAMPLES is None,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
    )


def fuzz_timeout(ci_seconds: float) -> float:
    """A pytest-timeout for a fuzz test: generous in CI, scaled up for a big run."""
    return ci_seconds if FUZZ_EXAMPLES is None else ci_seconds + FUZZ_EXAMPLES * 0.2
