"""A bounded soak on every run (the full one: `python -m tests.emulator.soak`, see its docstring)."""

from __future__ import annotations

from tests.emulator.soak import soak, start

CONCURRENCY = 4


def test_random_faults_give_every_request_its_outcome_and_leak_nothing():
    emulator = start(CONCURRENCY, timeout=1.0)
    try:
        result = soak(emulator, invocations=240, clients=6, concurrency=CONCURRENCY, seed=20261122)
    finally:
        emulator.stop()
    report = result["report"]
    assert report.total == 240 and report.hung == 0
    assert report.wrong == []
    assert len(report.outcomes) >= 8  # nearly every fault happened
    baseline, after = result["baseline"], result["after"]
    assert after["threads"] <= baseline["threads"] and after["fds"] <= baseline["fds"]
    assert after["children"] <= CONCURRENCY
