"""TLS end to end: a real redis-server on a TLS port only, with a CA and a server certificate
made here; the real CLI, coordinator and Celery worker reach it by rediss:// and the CA path
(TSP_CELERY_REDIS_CA_CERTS), and a server certificate from another CA is refused."""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.processes import Service, free_port, wait_until

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "tlspw0123456789"


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def _write_key(key, path: Path) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def make_ca(folder: Path, name: str):
    """A self-signed CA: (key, cert), its certificate written to ``folder/name.pem``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert


def make_server_cert(folder: Path, ca_key, ca_cert) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost signed by the CA: (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder().subject_name(_name("localhost"))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(san, critical=False).sign(ca_key, hashes.SHA256()))
    cert_path, key_path = folder / "server.pem", folder / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_redis(tmp_path_factory):
    """(port, CA path, a foreign CA path) of a redis-server that speaks TLS only."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key, ca_cert = make_ca(folder, "ca")
    make_ca(folder, "other-ca")
    cert, key = make_server_cert(folder, ca_key, ca_cert)
    conf = folder / "redis.conf"
    conf.write_text(f"requirepass {PASSWORD}\nsave \"\"\nappendonly no\nbind 127.0.0.1\n")
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", str(conf), "--port", "0", "--tls-port", str(port),
         "--tls-cert-file", str(cert), "--tls-key-file", str(key),
         "--tls-ca-cert-file", str(folder / "ca.pem"), "--tls-auth-clients", "no",
         "--dir", str(folder)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    client = redis.Redis(port=port, password=PASSWORD, ssl=True,
                         ssl_ca_certs=str(folder / "ca.pem"))
    wait_until(lambda: proc.poll() is not None or client.ping(), 10, "redis-server with TLS")
    assert proc.poll() is None, proc.stdout.read().decode()  # built without TLS otherwise
    yield port, folder / "ca.pem", folder / "other-ca.pem"
    proc.terminate()
    proc.wait(timeout=10)


def cli_env(port: int, ca: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT),
            "TSP_CELERY_REDIS_URL": f"rediss://:{PASSWORD}@127.0.0.1:{port}/0",
            "TSP_CELERY_REDIS_CA_CERTS": str(ca)}


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tsp_celery", *args], env=env,
                          capture_output=True, text=True, timeout=90)


def test_plain_redis_is_refused_by_the_tls_port(tls_redis):
    port, _ca, _other = tls_redis
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "TSP_CELERY_REDIS_URL": f"redis://:{PASSWORD}@127.0.0.1:{port}/0"}
    out = cli(env, "jobs")
    assert out.returncode == 3 and "cannot reach Redis" in out.stderr


def test_a_server_certificate_from_another_ca_is_refused(tls_redis):
    port, _ca, other = tls_redis
    out = cli(cli_env(port, other), "jobs")
    assert out.returncode == 3 and "certificate verify failed" in out.stderr, out.stderr
    assert PASSWORD not in out.stderr


@pytest.mark.integration
def test_submit_status_and_a_solve_over_tls(tls_redis, tmp_path, examples_dir):
    port, ca, _other = tls_redis
    env = cli_env(port, ca)
    submitted = cli(env, "submit", str(examples_dir / "burma14.tsp"), "--time", "2", "--json")
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)["job_id"]
    status = cli(env, "status", job, "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["status"] == "queued"
    services = [
        Service("coordinator", [sys.executable, "-m", "tsp_celery", "coordinator",
                                "--node-id", "c1"], env, tmp_path / "coordinator.log"),
        Service("worker", ["sh", str(ROOT / "ops" / "bin" / "tsp-celery-worker"),
                           "--concurrency", "1"], {**env, "TSP_CELERY_WORKER_NAME": "w1@tls"},
                tmp_path / "worker.log")]
    try:
        solved = cli(env, "solve", str(examples_dir / "burma14.tsp"), "--cluster", "--time", "3",
                     "--json")
        assert solved.returncode == 0, solved.stderr + "".join(s.tail() for s in services)
        assert json.loads(solved.stdout)["length"] == 3323  # burma14's optimum
        wait_until(lambda: json.loads(cli(env, "status", job, "--json").stdout)["status"]
                   == "done", 60, "the job submitted first to finish")
    finally:
        for service in services:
            service.stop(grace_s=5)
