"""Silencing HiGHS: its solvers print banners and debug lines on file descriptor 1 whatever their
options say, which would corrupt a caller's ``--json`` output (union units and the LP bound)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """File descriptor 1 on /dev/null for the duration (Python's own buffer flushed first)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
