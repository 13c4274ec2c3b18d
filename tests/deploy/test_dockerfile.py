"""ops/docker/Dockerfile and .dockerignore: hadolint-style basics, checked without a Docker engine.

The file is parsed by Docker's own parser (the ``dockerfile`` package wraps BuildKit's Go
parser); the build's warm-up script runs here against the installed package.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys

import dockerfile
import pytest
from deploy_helpers import ROOT, compose_config

pytestmark = pytest.mark.timeout(60)
DOCKERFILE = ROOT / "ops" / "docker" / "Dockerfile"


@pytest.fixture(scope="module")
def instructions() -> list:
    return list(dockerfile.parse_file(str(DOCKERFILE)))


def final_stage(instructions: list) -> list:
    start = max(i for i, ins in enumerate(instructions) if ins.cmd == "FROM")
    return instructions[start:]


def base_images(instructions: list) -> list[str]:
    """FROM images with ARG defaults substituted (stage names resolved away)."""
    args = {}
    for ins in instructions:
        if ins.cmd == "ARG" and "=" in ins.value[0]:
            name, _, default = ins.value[0].partition("=")
            args[name] = default
    stages = {ins.value[2].lower() for ins in instructions
              if ins.cmd == "FROM" and len(ins.value) == 3}
    images = []
    for ins in instructions:
        if ins.cmd == "FROM":
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m[1] or m[2]], ins.value[0])
            if image.lower() not in stages:
                images.append(image)
    return images


def stage(instructions: list, name: str) -> list:
    """The instructions of the stage ``FROM ... AS name``, up to the next FROM."""
    start = next(i for i, ins in enumerate(instructions)
                 if ins.cmd == "FROM" and ins.value[-1].lower() == name)
    end = next((i for i, ins in enumerate(instructions) if i > start and ins.cmd == "FROM"),
               len(instructions))
    return instructions[start:end]


def arg_default(instructions: list, name: str) -> str:
    return next(ins.value[0].partition("=")[2].strip("\"") for ins in instructions
                if ins.cmd == "ARG" and ins.value[0].partition("=")[0] == name)


def dockerignore_allows(path: str) -> bool:
    """Whether the build context keeps ``path`` (last matching pattern wins, like Docker)."""
    keep = True
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate, pattern = line.startswith("!"), line.lstrip("!").rstrip("/")
        parts = path.split("/")
        if any(fnmatch.fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            keep = negate
    return keep


def test_base_image_is_pinned_slim_python(instructions):
    images = base_images(instructions)
    assert images, "no FROM"
    for image in images:
        name, _, tag = image.partition(":")
        assert name == "python" and tag, f"unpinned base {image}"
        assert "latest" not in tag
        assert re.match(r"\d+\.\d+\.\d+-slim", tag), f"pin a patch release of slim: {image}"
    assert len(set(images)) == 1, "build and runtime stages share one base"


def test_runs_as_non_root(instructions):
    users = [ins.value[0] for ins in final_stage(instructions) if ins.cmd == "USER"]
    assert users, "the runtime stage needs a USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "numeric, so Kubernetes runAsNonRoot can verify it"
    last_user = max(i for i, ins in enumerate(instructions) if ins.cmd == "USER")
    assert all(ins.cmd != "RUN" for ins in instructions[last_user:]), "RUN after USER"


def test_no_add_no_curl_pipes_and_no_pip_cache(instructions):
    assert all(ins.cmd != "ADD" for ins in instructions), "use COPY (ADD fetches URLs, untars)"
    env = " ".join(" ".join(ins.value) for ins in instructions if ins.cmd == "ENV")
    for ins in instructions:
        if ins.cmd == "RUN" and "pip install" in ins.value[0]:
            assert "--no-cache-dir" in ins.value[0] or "PIP_NO_CACHE_DIR 1" in env
        if ins.cmd == "RUN":
            assert not re.search(r"(curl|wget)[^|]*\|\s*(sh|bash)", ins.value[0])


def test_copied_sources_exist_and_are_in_the_build_context(instructions):
    for ins in instructions:
        if ins.cmd != "COPY" or any(f.startswith("--from") for f in ins.flags):
            continue
        for source in ins.value[:-1]:
            path = ROOT / source
            assert path.exists(), source
            files = [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else [path]
            kept = [p for p in files if dockerignore_allows(str(p.relative_to(ROOT)))]
            assert kept, f"{source} is excluded by .dockerignore"
            assert all(dockerignore_allows(str(p.relative_to(ROOT))) for p in files
                       if "__pycache__" not in p.parts and p.suffix != ".pyc"), source


def test_build_context_leaves_out_the_rest():
    for path in (".git/HEAD", "tests/conftest.py", "docs/operations.md", ".env",
                 "tsp_celery/__pycache__/x.cpython-311.pyc", "docker-compose.yml"):
        assert not dockerignore_allows(path), path
    for path in ("setup.cfg", "pyproject.toml", "README.md", "tsp_celery/__init__.py",
                 "tasks/__init__.py"):
        assert dockerignore_allows(path), path


def test_worker_launcher_lands_on_path(instructions):
    copies = {ins.value[-1]: ins.value[0] for ins in instructions if ins.cmd == "COPY"}
    assert copies["/usr/local/bin/tsp-celery-worker"] == "ops/bin/tsp-celery-worker"


def test_image_installs_the_package_and_warms_up_at_build_time(instructions):
    runs = [ins.value[0] for ins in final_stage(instructions) if ins.cmd == "RUN"]
    assert any("pip install" in run and "tsp-celery" in run for run in runs)
    copies = {ins.value[0]: ins.value[-1] for ins in instructions if ins.cmd == "COPY"}
    warmup = copies["ops/docker/warmup.py"]
    assert any(run == f"python {warmup}" for run in runs)


@pytest.mark.timeout(120)
def test_warmup_script_solves_with_the_installed_package():
    proc = subprocess.run([sys.executable, str(ROOT / "ops" / "docker" / "warmup.py")],
                          capture_output=True, text=True, timeout=110, cwd="/")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("warm-up") == 2, proc.stdout


def test_dependencies_install_from_setup_cfg_before_any_code_is_copied(instructions):
    deps = stage(instructions, "deps")
    assert [ins.value[0] for ins in deps if ins.cmd == "COPY"] == ["setup.cfg"], \
        "code in the dependency stage would reinstall numpy/scipy on every edit"
    assert any("pip install --requirement" in ins.value[0] for ins in deps if ins.cmd == "RUN")
    runtime = final_stage(instructions)
    venv = next(i for i, ins in enumerate(runtime) if ins.cmd == "COPY"
                and ins.flags == ("--from=deps",))
    package = next(i for i, ins in enumerate(runtime) if ins.cmd == "COPY"
                   and ins.flags == ("--from=package",))
    assert venv < package, "the dependency layer comes first, so a code edit keeps it cached"


def test_extra_ca_certs_reach_pip_in_the_build_stage_only(instructions):
    deps = stage(instructions, "deps")
    assert arg_default(deps, "EXTRA_CA_CERTS") == ""
    pip = next(ins.value[0] for ins in deps if ins.cmd == "RUN" and "pip install" in ins.value[0])
    assert "PIP_CERT" in pip and "EXTRA_CA_CERTS" in pip
    for ins in final_stage(instructions):
        assert "EXTRA_CA_CERTS" not in " ".join(ins.value), "the runtime image must not see it"


def test_compose_builds_on_the_dockerfile_default_base(instructions):
    args = compose_config()["services"]["worker"]["build"]["args"]
    assert args["BASE_IMAGE"] == arg_default(instructions, "BASE_IMAGE")
    assert args["EXTRA_CA_CERTS"] == ""
    passed = compose_config(BASE_IMAGE="local-base:1")["services"]["worker"]["build"]["args"]
    assert passed["BASE_IMAGE"] == "local-base:1"
