"""The invocation and environment lifecycles: their tables, and the rules built on them."""

from __future__ import annotations

import itertools

import pytest

from runtime import wire
from runtime.emulator import environment, invocation
from runtime.emulator.invocation import Invocation, InvocationState, Outcome
from runtime.emulator.transitions import IllegalTransition

S = InvocationState
E = environment.EnvironmentState
INVOCATION_EVENTS = ("dispatch", "requeue", "respond", "report", "complete", "report_error", "fail")
ENVIRONMENT_EVENTS = ("initialise", "retire", "die")


class RecordingSink:
    def __init__(self, limit: int = 1 << 30) -> None:
        self.calls: list[tuple[str, object]] = []
        self.limit = limit
        self.size = 0

    def begin(self, prelude, content_type):
        self.calls.append(("begin", prelude or content_type))

    def body(self, pieces):
        self.size += sum(len(p) for p in pieces)
        self.calls.append(("body", b"".join(bytes(p) for p in pieces)))
        return self.size <= self.limit

    def settle(self, outcome):
        self.calls.append(("settle", outcome.state))


def new_invocation(sink=None, **kwargs) -> Invocation:
    return Invocation(b"{}", sink or RecordingSink(), 5.0, **kwargs)


EXPECTED_INVOCATION_MOVES = {
    (S.QUEUED, "dispatch"): S.DISPATCHED,
    (S.QUEUED, "requeue"): S.QUEUED,
    (S.QUEUED, "report_error"): S.ERRORED,
    (S.QUEUED, "fail"): S.FAILED,
    (S.DISPATCHED, "respond"): S.RESPONDING,
    (S.DISPATCHED, "report"): S.REPORTING,
    (S.DISPATCHED, "fail"): S.FAILED,
    (S.RESPONDING, "complete"): S.COMPLETED,
    (S.RESPONDING, "report_error"): S.ERRORED,
    (S.RESPONDING, "fail"): S.FAILED,
    (S.REPORTING, "report_error"): S.ERRORED,
    (S.REPORTING, "fail"): S.FAILED,
}


@pytest.mark.parametrize(("state", "event"), list(itertools.product(S, INVOCATION_EVENTS)))
def test_invocation_table_allows_exactly_the_designed_moves(state, event):
    expected = EXPECTED_INVOCATION_MOVES.get((state, event))
    if expected is None:
        with pytest.raises(IllegalTransition):
            invocation.TABLE.advance(state, event)
    else:
        assert invocation.TABLE.advance(state, event) is expected


@pytest.mark.parametrize(("state", "event"), list(itertools.product(E, ENVIRONMENT_EVENTS)))
def test_environment_table_allows_exactly_the_designed_moves(state, event):
    expected = {
        (E.STARTING, "initialise"): E.ACTIVE,
        (E.STARTING, "retire"): E.RETIRING,
        (E.ACTIVE, "retire"): E.RETIRING,
        (E.RETIRING, "initialise"): E.RETIRING,
        (E.STARTING, "die"): E.DEAD,
        (E.ACTIVE, "die"): E.DEAD,
        (E.RETIRING, "die"): E.DEAD,
    }.get((state, event))
    if expected is None:
        with pytest.raises(IllegalTransition):
            environment.TABLE.advance(state, event)
    else:
        assert environment.TABLE.advance(state, event) is expected


def test_final_states_have_no_moves():
    assert all(
        not invocation.TABLE.allows(state, event) for state in invocation.TABLE.final for event in INVOCATION_EVENTS
    )
    assert all(not environment.TABLE.allows(E.DEAD, event) for event in ENVIRONMENT_EVENTS)


def test_a_streamed_response_goes_through_its_sink_in_order():
    sink = RecordingSink()
    item = new_invocation(sink)
    item.dispatch()
    assert item.claim_response()
    item.begin(wire.Prelude(201, {}, ()), "x")
    assert item.body([b"a", memoryview(b"bc")])
    assert item.complete()
    assert sink.calls == [("begin", wire.Prelude(201, {}, ())), ("body", b"abc"), ("settle", S.COMPLETED)]
    assert item.settled and item.outcome == Outcome(S.COMPLETED)


def test_the_environment_hears_the_end_before_the_client():
    order = []
    sink = RecordingSink()
    sink.settle = lambda outcome: order.append("client")  # type: ignore[method-assign]
    item = new_invocation(sink)
    item.on_settled = lambda *_: order.append("environment")
    item.dispatch()
    item.claim_response()
    item.complete()
    assert order == ["environment", "client"]


def test_a_late_end_after_a_timeout_changes_nothing():
    sink = RecordingSink()
    item = new_invocation(sink)
    item.dispatch()
    item.claim_response()
    assert item.fail("Sandbox.Timedout", "late")
    assert not item.complete()
    assert not item.fail("Runtime.ExitError", "also late")
    assert item.outcome.error_type == "Sandbox.Timedout"
    assert [call for call in sink.calls if call[0] == "settle"] == [("settle", S.FAILED)]


def test_only_one_answer_is_accepted_per_invocation():
    item = new_invocation()
    assert not item.claim_response()  # not dispatched yet
    item.dispatch()
    assert item.claim_response()
    assert not item.claim_response() and not item.claim_error_report()


def test_body_after_the_end_is_refused_and_a_full_sink_fails_the_invocation():
    item = new_invocation(RecordingSink(limit=3))
    item.dispatch()
    item.claim_response()
    assert item.body([b"abc"])
    assert not item.body([b"d"])
    assert item.outcome.error_type == "Function.ResponseSizeTooLarge"
    assert not item.body([b"e"])


def test_illegal_moves_raise():
    item = new_invocation()
    with pytest.raises(IllegalTransition):
        item.complete()  # a response cannot end before it began
    item.dispatch()
    with pytest.raises(IllegalTransition):
        item.dispatch()


def test_deadline_starts_at_dispatch():
    now = [1000.0]
    item = new_invocation(clock=lambda: now[0])
    assert item.deadline == 1000.0 + invocation.INIT_ALLOWANCE_SECONDS + 5.0
    now[0] = 1003.0
    item.dispatch()
    assert item.deadline == 1008.0 and item.remaining() == 5.0


def test_a_waiter_wakes_when_dispatch_moves_the_deadline():
    import threading

    item = new_invocation()
    woke = threading.Event()

    def waiter():
        item.wait(60.0)  # computed from the queued deadline, which is far away
        woke.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    item.dispatch()
    assert woke.wait(10)
    thread.join()
