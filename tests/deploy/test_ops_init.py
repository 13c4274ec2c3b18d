"""`tsp-celery ops init`: fresh random secrets in private files, never printed, rotated on ask."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)


def init(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsp_celery", "ops", "init", str(folder), *args],
                          capture_output=True, text=True, timeout=30)


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_compose_files_are_private_and_agree(tmp_path):
    out = init(tmp_path)
    assert out.returncode == 0, out.stderr
    env = read_env(tmp_path / ".env")
    password, login = env["REDIS_PASSWORD"], env["FLOWER_BASIC_AUTH"]
    assert len(password) == 48 and int(password, 16) >= 0, "hex: safe in a URL"
    user, _, flower_pw = login.partition(":")
    assert user and len(flower_pw) >= 16
    auth = tmp_path / ".secrets" / "redis-auth.conf"
    assert auth.read_text() == f"requirepass {password}\n"
    assert mode(tmp_path / ".env") == 0o600 and mode(auth.parent) == 0o700
    assert password not in out.stdout + out.stderr and flower_pw not in out.stdout + out.stderr
    grafana_pw = env["GRAFANA_ADMIN_PASSWORD"]
    assert len(grafana_pw) >= 16 and grafana_pw not in out.stdout + out.stderr


def test_existing_secrets_are_kept_unless_rotated(tmp_path):
    assert init(tmp_path).returncode == 0
    (tmp_path / ".env").write_text((tmp_path / ".env").read_text() + "FLOWER_PORT=8555\n")
    first = read_env(tmp_path / ".env")
    again = init(tmp_path)
    assert again.returncode == 2 and "--rotate" in again.stderr
    assert read_env(tmp_path / ".env") == first
    assert init(tmp_path, "--rotate").returncode == 0
    rotated = read_env(tmp_path / ".env")
    assert rotated["REDIS_PASSWORD"] != first["REDIS_PASSWORD"]
    assert rotated["FLOWER_PORT"] == "8555", "other settings survive a rotation"
    assert rotated["REDIS_PASSWORD"] in (tmp_path / ".secrets" / "redis-auth.conf").read_text()


def test_k8s_files(tmp_path):
    out = init(tmp_path, "--for", "k8s")
    assert out.returncode == 0, out.stderr
    env = read_env(tmp_path / "secrets.env")
    assert set(env) == {"password", "flower-basic-auth"}
    assert (tmp_path / "redis-auth.conf").read_text() == f"requirepass {env['password']}\n"
    assert mode(tmp_path / "secrets.env") == mode(tmp_path / "redis-auth.conf") == 0o600
