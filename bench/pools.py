"""The Celery pools the scale benches (scale.py, celery_floor.py) run their slots on: many
threads or greenlets per worker process, so that hundreds of slots fit on two cores."""

from __future__ import annotations

import argparse

POOLS = ("threads", "gevent")
# Threads (or greenlets) per worker process: a process holds its slots' Redis connections, one GIL.
THREADS_PER_WORKER = 250


def add_pool_option(parser: argparse.ArgumentParser) -> None:
    """``--pool``, the same option in both benches."""
    parser.add_argument("--pool", choices=POOLS, default="threads",
                        help="the workers' Celery pool (gevent: greenlets, cooperative sleeps)")
