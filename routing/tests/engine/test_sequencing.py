"""Applying leader events in leader sequence (routing.engine.sequencing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.engine.sequencing import GateResult, Rejection, SequenceGate
from routing.engine.types import LeaderFill, LeaderOrder, LeaderOrderAction, OrderType, Side

T0 = datetime(2025, 3, 3, 15, 30, tzinfo=UTC)
HOLD = timedelta(seconds=2)
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


def fill(seq: int | None, event_id: str | None = None) -> LeaderFill:
    """A 1-lot MNQ buy on the leader; ``event_id`` defaults to ``f<seq>``."""
    return LeaderFill(
        event_id=event_id or f"f{seq}",
        account="LEAD",
        symbol="MNQH5",
        side=Side.BUY,
        qty=1,
        price=Decimal("21000"),
        time=T0,
        order_id="o1",
        seq=seq,
    )


def order_ack(seq: int) -> LeaderOrder:
    return LeaderOrder(
        event_id="o1:new",
        order_id="o1",
        account="LEAD",
        action=LeaderOrderAction.NEW,
        symbol="MNQH5",
        side=Side.BUY,
        qty=1,
        order_type=OrderType.LIMIT,
        time=T0,
        limit_price=Decimal("21000"),
        seq=seq,
    )


def seqs(result: GateResult[LeaderFill]) -> list[int | None]:
    return [e.seq for e in result.ready]


def reasons(result: GateResult[LeaderFill]) -> list[str]:
    return [r.reason for r in result.rejected]


# --- in order, gaps, fill-in -------------------------------------------------


def test_offer_when_in_order_then_each_ready_at_once_and_next_seq_advances() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()

    # Act
    results = [gate.offer(fill(n), T0) for n in (1, 2, 3)]

    # Assert
    assert [seqs(r) for r in results] == [[1], [2], [3]]
    assert all(r.rejected == () and r.skipped == () for r in results)
    assert gate.next_seq == 4
    assert gate.held == 0


def test_offer_when_gap_then_held_until_fill_in_releases_all_contiguous_in_order() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()
    gate.offer(fill(1), T0)

    # Act: 5, 3, 4 arrive ahead of 2
    early = [gate.offer(fill(n), T0) for n in (5, 3, 4)]
    held_before = gate.held
    filled = gate.offer(fill(2), T0 + timedelta(seconds=1))

    # Assert
    assert all(r.empty for r in early)
    assert held_before == 3
    assert seqs(filled) == [2, 3, 4, 5]
    assert gate.next_seq == 6
    assert gate.held == 0
    assert gate.deadline is None


def test_offer_when_fill_arrives_before_its_order_ack_then_ack_released_first() -> None:
    # Arrange: the order acknowledgement is seq 1, its fill seq 2, delivered reversed
    gate: SequenceGate[LeaderFill | LeaderOrder] = SequenceGate()

    # Act
    first = gate.offer(fill(2), T0)
    second = gate.offer(order_ack(1), T0)

    # Assert
    assert first.empty
    assert [e.event_id for e in second.ready] == ["o1:new", "f2"]


def test_offer_when_fill_in_leaves_later_gap_then_releases_only_up_to_next_gap() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()
    for n in (2, 4, 5):
        gate.offer(fill(n), T0)

    # Act
    result = gate.offer(fill(1), T0)

    # Assert
    assert seqs(result) == [1, 2]
    assert gate.next_seq == 3
    assert gate.held == 2


def test_offer_when_resumed_at_next_seq_then_numbering_continues_there() -> None:
    # Arrange: a restarted worker that had applied up to seq 41
    gate: SequenceGate[LeaderFill] = SequenceGate(next_seq=42)

    # Act
    old = gate.offer(fill(41), T0)
    new = gate.offer(fill(42), T0)

    # Assert
    assert reasons(old) == ["stale: seq 41 arrived after seq 41 was applied"]
    assert seqs(new) == [42]


def test_offer_when_seq_none_then_passed_straight_through_every_time() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()
    gate.offer(fill(3), T0)
    unnumbered = fill(None, "x1")

    # Act
    first = gate.offer(unnumbered, T0)
    again = gate.offer(unnumbered, T0)

    # Assert: arrival order, de-duplicated by event id downstream, gate state untouched
    assert first.ready == (unnumbered,)
    assert again.ready == (unnumbered,)
    assert gate.next_seq == 1
    assert gate.held == 1


# --- duplicates, conflicts, stale ------------------------------------------


def test_offer_when_applied_event_redelivered_then_rejected_as_duplicate() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()
    for n in (1, 2, 3):
        gate.offer(fill(n), T0)
    again = fill(2)

    # Act
    result = gate.offer(again, T0)

    # Assert
    assert result.ready == ()
    assert result.rejected == (Rejection(again, "duplicate: seq 2 (event f2) already applied"),)
    assert gate.next_seq == 4


def test_offer_when_held_event_redelivered_then_rejected_as_duplicate_and_held_once() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()
    gate.offer(fill(3), T0)

    # Act
    result = gate.offer(fill(3), T0)
    released = gate.offer(fill(1), T0).ready + gate.offer(fill(2), T0).ready

    # Assert
    assert reasons(result) == ["duplicate: seq 3 (event f3) already held, waiting for seq 1"]
    assert [e.seq for e in released] == [1, 2, 3]


def test_offer_when_held_seq_offered_with_other_event_id_then_rejected_as_conflict() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()
    gate.offer(fill(3, "a"), T0)

    # Act
    result = gate.offer(fill(3, "b"), T0)
    released = gate.offer(fill(1), T0).ready + gate.offer(fill(2), T0).ready

    # Assert: the first holder keeps the seq
    assert reasons(result) == ["conflict: seq 3 already held for event a, not event b"]
    assert [e.event_id for e in released] == ["f1", "f2", "a"]


def test_offer_when_held_event_offered_under_other_seq_then_rejected_as_conflict() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()
    gate.offer(fill(3, "a"), T0)

    # Act
    result = gate.offer(fill(4, "a"), T0)

    # Assert
    assert reasons(result) == ["conflict: event a already held as seq 3, offered again as seq 4"]
    assert gate.held == 1


def test_offer_when_applied_event_offered_under_new_seq_then_duplicate_not_applied_twice() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()
    gate.offer(fill(1, "a"), T0)

    # Act: a re-numbered re-delivery takes the next slot
    result = gate.offer(fill(2, "a"), T0)

    # Assert: rejected, and the slot stays open for the real seq 2
    assert reasons(result) == [
        "duplicate: event a already applied as seq 1, offered again as seq 2"
    ]
    assert gate.next_seq == 2


def test_offer_when_unknown_event_below_next_seq_then_rejected_as_stale() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()
    for n in (1, 2, 3):
        gate.offer(fill(n), T0)

    # Act: seq 2 again but a different event: not a re-delivery, it missed its turn
    result = gate.offer(fill(2, "other"), T0)

    # Assert
    assert reasons(result) == ["stale: seq 2 arrived after seq 3 was applied"]


def test_offer_when_applied_memory_forgotten_then_redelivery_still_rejected_as_stale() -> None:
    # Arrange: remembers only the last 2 applied events
    gate: SequenceGate[LeaderFill] = SequenceGate(remember=2)
    for n in (1, 2, 3, 4):
        gate.offer(fill(n), T0)

    # Act
    forgotten = gate.offer(fill(1), T0)
    remembered = gate.offer(fill(3), T0)

    # Assert
    assert reasons(forgotten) == ["stale: seq 1 arrived after seq 4 was applied"]
    assert reasons(remembered) == ["duplicate: seq 3 (event f3) already applied"]


# --- expiry --------------------------------------------------------------------


def test_expire_when_gap_outlives_hold_timeout_then_skipped_and_held_released_in_order() -> None:
    # Arrange: 1 applied, 2 and 3 lost, 4 and 5 held, 7 held behind another gap
    gate: SequenceGate[LeaderFill] = SequenceGate(hold_timeout=HOLD)
    gate.offer(fill(1), T0)
    gate.offer(fill(5), T0)
    gate.offer(fill(4), T0 + timedelta(milliseconds=100))
    gate.offer(fill(7), T0 + timedelta(seconds=1))

    # Act
    at_timeout = gate.expire(T0 + HOLD)
    after = gate.expire(T0 + HOLD + timedelta(milliseconds=1))

    # Assert: exactly 2s is not "longer than" 2s; 7 has waited only ~1s, so stays
    assert at_timeout.empty
    assert seqs(after) == [4, 5]
    assert after.skipped == (2, 3)
    assert after.rejected == ()
    assert gate.next_seq == 6
    assert gate.held == 1
    assert gate.deadline == T0 + timedelta(seconds=1) + HOLD


def test_expire_when_later_held_event_timed_out_then_every_gap_before_it_skipped() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate(hold_timeout=HOLD)
    gate.offer(fill(3), T0 + timedelta(seconds=1))
    gate.offer(fill(6), T0)
    gate.offer(fill(7), T0 + timedelta(seconds=5))

    # Act: 6 (and so 3 before it) timed out, 7 is contiguous with 6
    result = gate.expire(T0 + timedelta(seconds=2, milliseconds=500))

    # Assert
    assert seqs(result) == [3, 6, 7]
    assert result.skipped == (1, 2, 4, 5)
    assert gate.next_seq == 8
    assert gate.held == 0


def test_offer_when_skipped_seq_arrives_late_then_rejected_as_stale() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate(hold_timeout=HOLD)
    gate.offer(fill(1), T0)
    gate.offer(fill(3), T0)
    gate.expire(T0 + timedelta(seconds=3))

    # Act
    late = gate.offer(fill(2), T0 + timedelta(seconds=4))

    # Assert
    assert reasons(late) == ["stale: seq 2 arrived after seq 3 was applied"]
    assert gate.next_seq == 4


def test_expire_when_nothing_held_or_timed_out_then_empty() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate(hold_timeout=HOLD)
    empty_gate = gate.expire(T0 + timedelta(hours=1))
    gate.offer(fill(2), T0)

    # Act
    early = gate.expire(T0 + timedelta(seconds=1))

    # Assert
    assert empty_gate == GateResult()
    assert early == GateResult()
    assert gate.held == 1
    assert gate.deadline == T0 + HOLD


# --- bounds --------------------------------------------------------------------


def test_offer_when_max_held_reached_then_new_early_event_rejected_but_next_seq_taken() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate(max_held=2)
    gate.offer(fill(2), T0)
    gate.offer(fill(3), T0)

    # Act
    over = gate.offer(fill(5), T0)
    fill_in = gate.offer(fill(1), T0)

    # Assert: fail closed on the new one, the one that drains the queue still applies
    assert reasons(over) == [
        "overflow: seq 5 (event f5) cannot be held: 2 events already wait for seq 1 (limit 2)"
    ]
    assert seqs(fill_in) == [1, 2, 3]
    assert gate.held == 0


def test_offer_when_seq_too_far_ahead_then_rejected_as_gap() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate(max_gap=100)

    # Act
    within = gate.offer(fill(101), T0)
    beyond = gate.offer(fill(102), T0)

    # Assert
    assert within.empty
    assert reasons(beyond) == [
        "gap: seq 102 (event f102) is 101 ahead of the next expected seq 1, "
        "more than the 100 this gate holds for"
    ]


@pytest.mark.parametrize("seq", [0, -3])
def test_offer_when_seq_below_one_then_value_error(seq: int) -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()

    # Act / Assert
    with pytest.raises(ValueError, match=r"seq must be an int >= 1"):
        gate.offer(fill(seq, "bad"), T0)


def test_offer_and_expire_when_now_naive_then_value_error() -> None:
    # Arrange
    gate: SequenceGate[LeaderFill] = SequenceGate()
    naive = datetime(2025, 3, 3, 15, 30)

    # Act / Assert
    with pytest.raises(ValueError, match="timezone-aware"):
        gate.offer(fill(1), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        gate.expire(naive)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"next_seq": 0}, "next_seq must be >= 1"),
        ({"hold_timeout": timedelta(seconds=-1)}, "hold_timeout must be >= 0"),
        ({"max_held": 0}, "max_held must be >= 1"),
        ({"remember": 0}, "remember must be >= 1"),
        ({"max_gap": 0}, "max_gap must be >= 1"),
    ],
)
def test_init_when_argument_out_of_range_then_value_error(kwargs: dict, message: str) -> None:
    # Act / Assert
    with pytest.raises(ValueError, match=message):
        SequenceGate(**kwargs)


# --- properties ------------------------------------------------------------------


@st.composite
def shuffled_with_duplicates(draw: st.DrawFn) -> tuple[int, list[int]]:
    """``(n, seqs)``: a permutation of 1..n with random repeats inserted anywhere."""
    n = draw(st.integers(min_value=1, max_value=60))
    order = draw(st.permutations(range(1, n + 1)))
    repeats = draw(st.lists(st.integers(min_value=1, max_value=n), max_size=n))
    arrivals = list(order)
    for seq in repeats:
        arrivals.insert(draw(st.integers(min_value=0, max_value=len(arrivals))), seq)
    return n, arrivals


@PROPERTY_SETTINGS
@given(case=shuffled_with_duplicates())
def test_property_any_order_with_duplicates_then_each_event_once_in_seq_order(
    case: tuple[int, list[int]],
) -> None:
    # Arrange
    n, arrivals = case
    gate: SequenceGate[LeaderFill] = SequenceGate(hold_timeout=HOLD)
    ready: list[LeaderFill] = []
    rejected: list[Rejection[LeaderFill]] = []

    # Act: `now` fixed, so nothing ever expires
    for seq in arrivals:
        result = gate.offer(fill(seq), T0)
        ready.extend(result.ready)
        rejected.extend(result.rejected)
        assert result.skipped == ()
    expired = gate.expire(T0)

    # Assert
    assert [e.seq for e in ready] == list(range(1, n + 1))
    assert len(rejected) == len(arrivals) - n
    assert all(r.reason.startswith("duplicate: ") for r in rejected)
    assert expired.empty
    assert gate.next_seq == n + 1
    assert gate.held == 0


@st.composite
def lossy_deliveries(draw: st.DrawFn) -> tuple[int, set[int], list[tuple[int, int]]]:
    """``(n, dropped, deliveries)``: events 1..n, some never delivered, the rest
    (plus some repeats) delivered as ``(ms after T0, seq)`` in time order; a
    few arrive long after the hold timeout."""
    n = draw(st.integers(min_value=1, max_value=50))
    dropped = draw(st.sets(st.integers(min_value=1, max_value=n), max_size=n // 3))
    delivered = [s for s in range(1, n + 1) if s not in dropped]
    if delivered:
        delivered += draw(st.lists(st.sampled_from(delivered), max_size=n // 2))
    delays = st.integers(min_value=0, max_value=500) | st.integers(min_value=0, max_value=8000)
    deliveries = [(s * 50 + draw(delays), s) for s in delivered]
    deliveries.sort(key=lambda d: d[0])
    return n, dropped, deliveries


@PROPERTY_SETTINGS
@given(case=lossy_deliveries(), expire_every=st.integers(min_value=1, max_value=5))
def test_property_drops_and_expiry_then_ready_strictly_increasing_and_never_repeated(
    case: tuple[int, set[int], list[tuple[int, int]]], expire_every: int
) -> None:
    # Arrange
    n, dropped, deliveries = case
    dropped_ids = {f"f{s}" for s in dropped}
    gate: SequenceGate[LeaderFill] = SequenceGate(hold_timeout=HOLD)
    ready: list[LeaderFill] = []
    skipped: list[int] = []
    rejected = 0

    def take(result: GateResult[LeaderFill]) -> None:
        nonlocal rejected
        ready.extend(result.ready)
        skipped.extend(result.skipped)
        rejected += len(result.rejected)

    # Act: expire every few deliveries, then once long after the last
    for i, (ms, seq) in enumerate(deliveries):
        now = T0 + timedelta(milliseconds=ms)
        take(gate.offer(fill(seq), now))
        if i % expire_every == 0:
            take(gate.expire(now))
            deadline = gate.deadline
            # nothing held has waited longer than the timeout after an expire
            assert deadline is None or deadline >= now
    take(gate.expire(T0 + timedelta(hours=1)))

    # Assert
    ready_seqs = [e.seq for e in ready]
    assert all(a < b for a, b in pairwise(ready_seqs))
    assert len({e.event_id for e in ready}) == len(ready)
    assert not dropped_ids & {e.event_id for e in ready}
    # every number below next_seq was either applied or reported skipped, once
    assert sorted(ready_seqs + skipped) == list(range(1, gate.next_seq))
    assert gate.next_seq <= n + 1
    assert gate.held == 0
    # every delivery was either applied or rejected, none silently lost
    assert len(ready) + rejected == len(deliveries)
