"""ops/bin/tsp-celery-worker: the one command line of a worker, for compose, Procfile and k8s."""

from __future__ import annotations

import os
import re

import pytest
from deploy_helpers import WORKER_LAUNCHER, check_entry_point

pytestmark = pytest.mark.timeout(30)


def test_launcher_is_an_executable_posix_script():
    assert os.access(WORKER_LAUNCHER, os.X_OK)
    text = WORKER_LAUNCHER.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert re.search(r"^exec celery -A tasks worker", text, re.M), "celery must replace the shell"


def test_defaults(resolve):
    argv = resolve(["tsp-celery-worker"], env={"TSP_CELERY_WORKER_CONCURRENCY": ""})
    check_entry_point(argv)
    opts = dict(zip(argv[4::2], argv[5::2], strict=False))
    assert opts["--queues"] == "solve,merge"
    assert opts["--concurrency"] == str(len(os.sched_getaffinity(0)))
    assert opts["--loglevel"] == "INFO"
    assert re.fullmatch(r"worker-\d+@%h", opts["--hostname"]), "unique per process and host"


def test_environment_and_extra_arguments(resolve):
    env = {"TSP_CELERY_WORKER_CONCURRENCY": "7", "TSP_CELERY_WORKER_QUEUES": "merge",
           "TSP_CELERY_WORKER_NAME": "w1@box", "TSP_CELERY_LOGLEVEL": "DEBUG"}
    argv = resolve(["tsp-celery-worker", "--without-mingle"], env=env)
    opts = dict(zip(argv[4::2], argv[5::2], strict=False))
    assert opts["--concurrency"] == "7"
    assert opts["--queues"] == "merge"
    assert opts["--hostname"] == "w1@box"
    assert opts["--loglevel"] == "DEBUG"
    assert argv[-1] == "--without-mingle"
