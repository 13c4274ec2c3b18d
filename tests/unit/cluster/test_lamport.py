"""Lamport clock: local ticks, receives jump past the sender, and causal order of messages."""

from __future__ import annotations

import random
import threading

import pytest

from tsp_celery.cluster.lamport import LamportClock


def test_tick_and_observe_follow_lamports_rules():
    clock = LamportClock("a", start=5)
    assert clock.tick() == 6
    assert clock.observe(20) == 21  # max(local, received) + 1
    assert clock.observe(3) == 22  # an older stamp still advances the clock
    assert clock.observe(None) == 23
    assert clock.value == 23


def test_rejects_negative_stamps():
    with pytest.raises(ValueError):
        LamportClock("a", start=-1)
    with pytest.raises(ValueError):
        LamportClock("a").observe(-2)


def test_every_receive_is_stamped_after_its_send():
    rng = random.Random(7)
    clocks = [LamportClock(f"n{i}") for i in range(4)]
    for _ in range(500):
        sender, receiver = rng.sample(clocks, 2)
        if rng.random() < 0.3:
            sender.tick()
        sent = sender.tick()
        received = receiver.observe(sent)
        assert received > sent


def test_ticks_from_threads_are_all_distinct():
    clock = LamportClock("w")
    stamps: list[int] = []

    def run():
        for _ in range(2000):
            stamps.append(clock.tick())

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(stamps) == list(range(1, 8001))
