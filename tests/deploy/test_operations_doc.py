"""docs/operations.md names only commands and options that exist (it is the runbook at 3 a.m.)."""

from __future__ import annotations

import re

from deploy_helpers import ROOT

from tsp_celery.cli import cli

DOC = (ROOT / "docs" / "operations.md").read_text()
FLAT = re.sub(r"\s+", " ", DOC)  # commands wrap across lines


def test_every_tsp_celery_command_in_the_runbook_exists():
    # Not the namespace in `kubectl -n tsp-celery ...`, nor prose ("run tsp-celery as ...").
    named = set(re.findall(r"(?<!-n )(?<!run )\btsp-celery (\w[\w-]*)", FLAT))
    assert named, "the runbook names no command"
    assert named <= set(cli.commands), sorted(named - set(cli.commands))


def test_health_options_in_the_runbook_exist():
    options = {o for p in cli.commands["health"].params for o in p.opts}
    for line in DOC.splitlines():
        if "tsp-celery health" in line:
            used = set(re.findall(r"(--[a-z-]+)", line.split("tsp-celery health", 1)[1]))
            assert used <= options, line


def test_compose_services_in_the_runbook_exist():
    compose = (ROOT / "docker-compose.yml").read_text()
    for service in set(re.findall(r"docker-compose (?:logs|ps|exec|run --rm) (\w+)", DOC)):
        assert re.search(rf"^  {service}:$", compose, re.M), service
