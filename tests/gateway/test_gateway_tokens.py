"""TokenStore on fakeredis: tokens verify, only digests are stored, ownership is per token."""

from __future__ import annotations

import hashlib

import fakeredis
import pytest

from tsp_celery.cluster.keys import Keys
from tsp_celery.gateway.tokens import TokenLimits, TokenStore


@pytest.fixture
def store() -> TokenStore:
    return TokenStore(fakeredis.FakeRedis(), Keys("t"))


def test_a_new_token_verifies_with_its_name_and_limits(store):
    token = store.create("alice", TokenLimits(max_nodes=500, max_job_seconds=30.5,
                                              max_active_jobs=2))
    info = store.verify(token)
    assert info is not None and info.name == "alice"
    assert info.limits == TokenLimits(500, 30.5, 2)
    assert token.startswith(f"tspg_{info.token_id}_")


def test_only_the_digest_of_the_secret_is_stored(store):
    token = store.create("bob")
    token_id, secret = token.split("_", 2)[1:]
    everything = b"".join(
        b"".join(store.redis.hgetall(k).values()) if store.redis.type(k) == b"hash" else b""
        for k in store.redis.scan_iter())
    assert secret.encode() not in everything
    stored = store.redis.hget(Keys("t").gateway_token(token_id), "digest")
    assert stored == hashlib.sha256(secret.encode()).hexdigest().encode()
    assert all("digest" not in row for row in store.tokens())


@pytest.mark.parametrize("mangle", [
    lambda t: "", lambda t: "Bearer " + t, lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    lambda t: t.replace("tspg_", "tspx_"), lambda t: t + "\n", lambda t: t.upper(),
])
def test_anything_but_the_exact_token_is_refused(store, mangle):
    token = store.create("carol")
    assert store.verify(mangle(token)) is None


def test_a_revoked_token_no_longer_verifies(store):
    token = store.create("dave")
    token_id = store.verify(token).token_id
    assert store.revoke(token_id) is True
    assert store.verify(token) is None
    assert store.revoke(token_id) is False
    assert store.tokens() == []


def test_jobs_belong_to_the_token_that_submitted_them(store):
    a = store.verify(store.create("a")).token_id
    b = store.verify(store.create("b")).token_id
    store.add_job(a, "j1")
    store.add_job(a, "j2")
    assert store.owns(a, "j1") and not store.owns(b, "j1")
    assert store.job_ids(a) == ["j2", "j1"]
    store.forget_jobs(a, ["j1"])
    assert store.job_ids(a) == ["j2"] and store.job_ids(b) == []


@pytest.mark.parametrize("bad", [{"max_nodes": 0}, {"max_job_seconds": -1},
                                 {"max_active_jobs": 0}])
def test_limits_must_be_positive(bad):
    with pytest.raises(ValueError, match="Expected"):
        TokenLimits(**bad)


def test_a_token_needs_a_name(store):
    with pytest.raises(ValueError, match="name"):
        store.create("  ")


def test_jobs_count_as_active_until_settled(store):
    a = store.verify(store.create("a")).token_id
    for job_id in ("j1", "j2", "j3"):
        store.add_job(a, job_id)
    store.settle(a, ["j2"])
    assert sorted(store.active_job_ids(a)) == ["j1", "j3"]
    assert store.job_ids(a) == ["j3", "j2", "j1"], "settling keeps the job listed"
    store.revoke(a)
    assert store.active_job_ids(a) == []
