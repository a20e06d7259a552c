"""Apply one leader account's events in the leader stream's sequence order.

A leader stream numbers its events ``seq`` 1, 2, 3... per leader account. A
reconnect can re-deliver events and the network can reorder them (a fill ahead
of its order's acknowledgement, an older number after a newer one).
:class:`SequenceGate` sits between the stream and the copier: it releases each
numbered event exactly once and in order, holds early arrivals until the gap
before them fills, gives a gap up after ``hold_timeout`` and rejects, with a
sentence a trader can read, whatever it cannot apply.

Streams whose source does not number events (``seq is None``: broker exports,
some REST polls) pass straight through in arrival order; they must be
de-duplicated by ``event_id`` downstream (the deterministic client order id
and the ``CopyOrder`` unique constraint, :mod:`routing.engine.orders`).

The gate is pure and synchronous: it never reads the clock, callers pass
``now`` (timezone-aware) to :meth:`SequenceGate.offer` and call
:meth:`SequenceGate.expire` periodically (at :attr:`SequenceGate.deadline`).
It keeps no state beyond memory; the caller persists ``next_seq`` after
applying a result and passes it back after a restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

DEFAULT_HOLD_TIMEOUT = timedelta(seconds=2)
DEFAULT_MAX_HELD = 1000
# How many applied (seq, event id) pairs are remembered to tell a re-delivery
# ("duplicate") from an event that missed its turn ("stale"). Both are rejected.
DEFAULT_REMEMBER = 10_000
# How far ahead of the next expected seq an event may be held. A larger jump is
# a broker glitch or a sequence reset; giving such a gap up would skip (and
# report) an unbounded run of numbers, so the event is rejected instead.
DEFAULT_MAX_GAP = 10_000


class Sequenced(Protocol):
    """Any leader event the gate can order: ``LeaderFill``, ``LeaderOrder``...

    ``event_id`` is stable across re-deliveries; ``seq`` is the stream's
    sequence number (>= 1) or ``None`` when the source has none.
    """

    @property
    def event_id(self) -> str: ...

    @property
    def seq(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Rejection[E: Sequenced]:
    """An event the gate refused to release; ``reason`` is a sentence with the numbers.

    It starts with ``duplicate:``, ``conflict:``, ``stale:``, ``gap:`` or
    ``overflow:``. A rejected event is never released later.
    """

    event: E
    reason: str


@dataclass(frozen=True, slots=True)
class GateResult[E: Sequenced]:
    """What one :meth:`SequenceGate.offer` or :meth:`SequenceGate.expire` call decided.

    ``ready``: events to apply now, in this order (strictly increasing ``seq``
    for numbered events). ``rejected``: events refused, never to be applied.
    ``skipped``: sequence numbers given up after waiting ``hold_timeout``
    (only from ``expire``), increasing; a later arrival of one is rejected as
    stale.
    """

    ready: tuple[E, ...] = ()
    rejected: tuple[Rejection[E], ...] = ()
    skipped: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing was released, rejected or skipped."""
        return not (self.ready or self.rejected or self.skipped)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now.isoformat()}")


def _seconds(delta: timedelta) -> str:
    return f"{delta.total_seconds():g}s"


class SequenceGate[E: Sequenced]:
    """Releases ONE leader account's numbered events exactly once, in ``seq`` order.

    ``next_seq`` (>= 1) is the first sequence number not yet applied: 1 for a
    new stream, the last applied seq + 1 when a worker resumes. An event that
    arrives ahead of ``next_seq`` is held; once it has waited longer than
    ``hold_timeout`` (>= 0) the missing numbers before it are skipped by
    :meth:`expire`. At most ``max_held`` (>= 1) events are held and only up to
    ``max_gap`` (>= 1) numbers ahead of ``next_seq``; past either bound a new
    event is rejected (fail closed, bounded memory). The last ``remember``
    (>= 1) applied (seq, event id) pairs are kept to tell a re-delivery
    (``duplicate``) from a late event (``stale``); older re-deliveries are
    still rejected, as stale.

    A stream whose numbering restarts (a new broker session counting from 1)
    needs a new gate: against this one every event would be stale.
    Raises ``ValueError`` for an out-of-range argument.
    """

    __slots__ = (
        "_applied",
        "_applied_ids",
        "_held",
        "_held_ids",
        "_hold_timeout",
        "_max_gap",
        "_max_held",
        "_next_seq",
        "_remember",
    )

    def __init__(
        self,
        next_seq: int = 1,
        hold_timeout: timedelta = DEFAULT_HOLD_TIMEOUT,
        max_held: int = DEFAULT_MAX_HELD,
        *,
        remember: int = DEFAULT_REMEMBER,
        max_gap: int = DEFAULT_MAX_GAP,
    ) -> None:
        if next_seq < 1:
            raise ValueError(f"next_seq must be >= 1, got {next_seq}")
        if hold_timeout < timedelta(0):
            raise ValueError(f"hold_timeout must be >= 0, got {_seconds(hold_timeout)}")
        for name, value in (("max_held", max_held), ("remember", remember), ("max_gap", max_gap)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self._next_seq = next_seq
        self._hold_timeout = hold_timeout
        self._max_held = max_held
        self._remember = remember
        self._max_gap = max_gap
        # seq -> (event, arrival time); every key > next_seq.
        self._held: dict[int, tuple[E, datetime]] = {}
        self._held_ids: dict[str, int] = {}
        # Recently applied seq -> event id, oldest first, and its inverse.
        self._applied: dict[int, str] = {}
        self._applied_ids: dict[str, int] = {}

    @property
    def next_seq(self) -> int:
        """The sequence number the gate releases next (all below are applied or skipped)."""
        return self._next_seq

    @property
    def held(self) -> int:
        """How many events wait for a gap before them to fill."""
        return len(self._held)

    @property
    def deadline(self) -> datetime | None:
        """When the oldest held event times out: ``expire(now)`` releases it for ``now`` later
        than this. ``None`` when nothing is held."""
        if not self._held:
            return None
        return min(arrived for _, arrived in self._held.values()) + self._hold_timeout

    def offer(self, event: E, now: datetime) -> GateResult[E]:
        """Take one event arriving at ``now`` (aware); return what to apply or reject now.

        ``ready`` is ``(event,)`` for an unnumbered event; for ``seq ==
        next_seq`` it is the event plus every held event now contiguous with
        it. An event ahead of ``next_seq`` is held (empty result). A rejection
        never moves ``next_seq``. Raises ``ValueError`` for ``seq < 1`` or a
        naive ``now``.
        """
        _require_aware(now)
        seq = event.seq
        if seq is None:
            return GateResult(ready=(event,))
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
            raise ValueError(f"event {event.event_id}: seq must be an int >= 1, got {seq!r}")
        reason = self._refusal(event.event_id, seq)
        if reason is not None:
            return GateResult(rejected=(Rejection(event, reason),))
        if seq > self._next_seq:
            self._held[seq] = (event, now)
            self._held_ids[event.event_id] = seq
            return GateResult()
        ready = [event]
        self._mark_applied(event)
        self._next_seq += 1
        self._drain(ready)
        return GateResult(ready=tuple(ready))

    def expire(self, now: datetime) -> GateResult[E]:
        """Give up every gap before an event held longer than ``hold_timeout`` at ``now``.

        The missing sequence numbers up to the latest such event are
        ``skipped``, the held events up to it, and any contiguous with them,
        are ``ready`` in order. Afterwards no held event has waited longer than
        ``hold_timeout``. Empty when nothing timed out. Raises ``ValueError``
        for a naive ``now``.
        """
        _require_aware(now)
        timed_out = [
            seq for seq, (_, arrived) in self._held.items() if now - arrived > self._hold_timeout
        ]
        if not timed_out:
            return GateResult()
        last = max(timed_out)
        ready: list[E] = []
        skipped: list[int] = []
        while self._next_seq <= last:
            if self._next_seq in self._held:
                ready.append(self._release(self._next_seq))
            else:
                skipped.append(self._next_seq)
            self._next_seq += 1
        self._drain(ready)
        return GateResult(ready=tuple(ready), skipped=tuple(skipped))

    def _refusal(self, event_id: str, seq: int) -> str | None:
        """The rejection reason for a numbered event, or ``None`` when it can be taken."""
        expected = self._next_seq
        applied_as = self._applied_ids.get(event_id)
        if applied_as == seq:
            return f"duplicate: seq {seq} (event {event_id}) already applied"
        if applied_as is not None:
            return (
                f"duplicate: event {event_id} already applied as seq {applied_as}, "
                f"offered again as seq {seq}"
            )
        if seq < expected:
            return f"stale: seq {seq} arrived after seq {expected - 1} was applied"
        held_as = self._held_ids.get(event_id)
        if held_as == seq:
            return (
                f"duplicate: seq {seq} (event {event_id}) already held, waiting for seq {expected}"
            )
        if held_as is not None:
            return (
                f"conflict: event {event_id} already held as seq {held_as}, "
                f"offered again as seq {seq}"
            )
        if seq in self._held:
            holder = self._held[seq][0].event_id
            return f"conflict: seq {seq} already held for event {holder}, not event {event_id}"
        if seq == expected:
            return None
        if seq - expected > self._max_gap:
            return (
                f"gap: seq {seq} (event {event_id}) is {seq - expected} ahead of the next "
                f"expected seq {expected}, more than the {self._max_gap} this gate holds for"
            )
        if len(self._held) >= self._max_held:
            return (
                f"overflow: seq {seq} (event {event_id}) cannot be held: {len(self._held)} "
                f"events already wait for seq {expected} (limit {self._max_held})"
            )
        return None

    def _drain(self, ready: list[E]) -> None:
        """Append every held event contiguous with ``next_seq`` to ``ready``."""
        while self._next_seq in self._held:
            ready.append(self._release(self._next_seq))
            self._next_seq += 1

    def _release(self, seq: int) -> E:
        event, _ = self._held.pop(seq)
        del self._held_ids[event.event_id]
        self._mark_applied(event)
        return event

    def _mark_applied(self, event: E) -> None:
        seq = event.seq
        assert seq is not None
        self._applied[seq] = event.event_id
        self._applied_ids[event.event_id] = seq
        if len(self._applied) > self._remember:
            oldest = next(iter(self._applied))
            forgotten = self._applied.pop(oldest)
            if self._applied_ids.get(forgotten) == oldest:
                del self._applied_ids[forgotten]
