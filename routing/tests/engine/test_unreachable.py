"""A follower whose broker cannot be reached: every order blocked with the reason."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.copier import LeaderMove, decide_copies
from routing.engine.types import CopyMode, DecisionStatus, FollowerState, GroupConfig

D = Decimal
DOWN = "ProjectX login 'Topstep' connection down since 14:02:11 UTC"


def _decide(before: int, after: int, held: int, *, unreachable: str | None) -> list:
    move = LeaderMove(event_key="L:f1", symbol="MNQZ6", before=before, after=after, price=D(21000))
    followers = [
        FollowerState(key="1", ratio=D(2), positions={"MNQZ6": held}, unreachable=unreachable),
        FollowerState(key="2", ratio=D(2), positions={"MNQZ6": held}),
    ]
    return decide_copies(
        move, GroupConfig(CopyMode.MULTIPLIER, D(1)), followers, SPECS_BY_ROOT, route_key="g1"
    )


def test_an_entry_to_an_unreachable_follower_is_blocked_with_the_reason() -> None:
    down, up = _decide(0, 1, 0, unreachable=DOWN)
    assert up.status is DecisionStatus.SEND and up.qty == 2
    assert down.status is DecisionStatus.BLOCKED
    assert down.qty == 0
    assert down.reason.endswith(f"not sent: {DOWN}")
    # Its tracked position does not move: nothing was sent.
    assert (down.position_before, down.target) == (0, 0)


def test_an_exit_to_an_unreachable_follower_is_blocked_too() -> None:
    # Leader 3 -> 0: the follower at ratio 2 holds 6 and would sell 6.
    down, up = _decide(3, 0, 6, unreachable=DOWN)
    assert (up.status, up.qty, up.target) == (DecisionStatus.SEND, 6, 0)
    assert down.status is DecisionStatus.BLOCKED
    assert (down.position_before, down.target, down.qty) == (6, 6, 0)
    assert DOWN in down.reason


def test_nothing_to_send_stays_skipped_when_unreachable() -> None:
    # Leader 1 -> 1 (a zero move): the follower at its target has nothing to send.
    down, _ = _decide(1, 1, 2, unreachable=DOWN)
    assert down.status is DecisionStatus.SKIPPED


@given(
    before=st.integers(-10, 10),
    after=st.integers(-10, 10),
    held=st.integers(-20, 20),
)
def test_an_unreachable_follower_never_gets_an_order(before: int, after: int, held: int) -> None:
    down, _ = _decide(before, after, held, unreachable=DOWN)
    assert down.qty == 0
    assert down.status is not DecisionStatus.SEND
    assert down.target == down.position_before == held


def _decide_blocked(before: int, after: int, held: int) -> list:
    move = LeaderMove(event_key="L:f1", symbol="MNQZ6", before=before, after=after, price=D(21000))
    reason = "no projectx price for MNQZ6 for 5 minutes"
    followers = [
        FollowerState(key="1", ratio=D(2), positions={"MNQZ6": held}, entries_blocked=reason),
        FollowerState(key="2", ratio=D(2), positions={"MNQZ6": held}),
    ]
    return decide_copies(
        move, GroupConfig(CopyMode.MULTIPLIER, D(1)), followers, SPECS_BY_ROOT, route_key="g1"
    )


def test_blocked_entries_are_refused_with_the_reason_and_exits_still_go() -> None:
    blocked, free = _decide_blocked(1, 2, 2)  # leader adds 1: +2 for ratio 2
    assert (free.status, free.qty) == (DecisionStatus.SEND, 2)
    assert blocked.status is DecisionStatus.BLOCKED and blocked.qty == 0
    assert "entries blocked: no projectx price for MNQZ6 for 5 minutes" in blocked.reason
    exit_blocked, exit_free = _decide_blocked(2, 0, 4)  # leader flat: sell 4
    assert (exit_blocked.status, exit_blocked.qty, exit_blocked.target) == (
        DecisionStatus.SEND,
        4,
        0,
    )
    assert exit_free.qty == 4
