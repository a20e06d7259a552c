"""One engine benchmark case: its rows, its paper broker and its probe.

:func:`_setup_case` writes a case's user, leader, group and followers in
bulk, as the services write them; :func:`bench_paper_broker` is the paper
broker the worker sends to; :class:`_Probe` wraps the worker's module-level
names to stamp each event's stages (:mod:`routing.runtime.bench` reads them).
"""

from __future__ import annotations

import pickle
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from types import ModuleType
from typing import Any

from routing.runtime.bench_config import BenchError


@dataclass
class _Event:
    """perf_counter_ns stamps for one leader event."""

    start: int = 0
    ingest_start: int = 0
    ingest_end: int = 0
    done: int = 0
    engine_ns: int = 0
    states_ns: int = 0
    record_ns: int = 0
    places: list[int] = field(default_factory=list)
    decisions: Counter[str] = field(default_factory=Counter)


class _Probe:
    """Wraps module-level names the worker path calls, stamping the current event.

    The engine's inputs are kept for the engine-only figure pickled (bytes,
    which the garbage collector never scans), sealed after each event,
    outside its timing: kept as objects (hundreds of thousands of follower
    states at 1000 followers) they made the collector's full passes slower
    in the benchmark than in a worker, which keeps none of them.
    """

    def __init__(self) -> None:
        self.current = _Event()
        self.engine_calls: list[bytes] = []
        self._pending: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
        self.capture = False
        self._restore: list[tuple[ModuleType | type, str, Any]] = []

    def seal(self) -> None:
        """Pickle the engine inputs captured during the event just timed:
        the followers' states as the event made them (a list, whatever
        sequence made them as they were read), without the ``keys`` that
        let it (``decide_copies`` takes none)."""
        self.engine_calls.extend(
            pickle.dumps(
                (
                    (*args[:2], list(args[2]), *args[3:]),
                    {name: value for name, value in kwargs.items() if name != "keys"},
                ),
                protocol=pickle.HIGHEST_PROTOCOL,
            )
            for args, kwargs in self._pending
        )
        self._pending.clear()

    def patch(self) -> None:
        from routing.runtime import worker
        from routing.services import leader_decisions
        from routing.services.follower_state import FollowerStates

        self._wrap(worker, "leader_event_ingest", self._ingest)
        self._wrap(worker, "event_answers_record", self._timed("record_ns"))
        self._wrap(leader_decisions, "decide_copies_each", self._engine)
        # The followers' states are made as the decisions are read: their
        # time is taken out of the engine's.
        self._wrap(FollowerStates, "states", self._states)

    def unpatch(self) -> None:
        for module, name, original in reversed(self._restore):
            setattr(module, name, original)
        self._restore.clear()

    def _wrap(self, module: ModuleType | type, name: str, make: Callable[[Any], Any]) -> None:
        original = getattr(module, name, None)
        if original is None:
            raise BenchError(
                f"{module.__name__}.{name} is gone: update routing/runtime/bench_case.py"
            )
        self._restore.append((module, name, original))
        setattr(module, name, make(original))

    def _ingest(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def ingest(*args: Any, **kwargs: Any) -> Any:
            self.current.ingest_start = time.perf_counter_ns()
            try:
                return original(*args, **kwargs)
            finally:
                self.current.ingest_end = time.perf_counter_ns()

        return ingest

    def _engine(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def decide(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            decisions = original(*args, **kwargs)
            self.current.engine_ns += time.perf_counter_ns() - started
            if self.capture:
                # Replayed by decide_copies (the same arguments, the same decisions).
                self._pending.append((args, kwargs))
            return self._each(decisions)

        return decide

    def _states(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def states(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter_ns()
            try:
                return original(*args, **kwargs)
            finally:
                self.current.states_ns += time.perf_counter_ns() - started

        return states

    def _each(self, decisions: Iterator[Any]) -> Iterator[Any]:
        """``decisions`` (made as they are read), each one's making timed,
        less the followers' states made meanwhile."""
        event = self.current
        while True:
            started, states = time.perf_counter_ns(), event.states_ns
            decision = next(decisions, None)
            event.engine_ns += time.perf_counter_ns() - started - (event.states_ns - states)
            if decision is None:
                return
            event.decisions[str(decision.status)] += 1
            yield decision

    def _timed(self, attr: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def make(original: Callable[..., Any]) -> Callable[..., Any]:
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter_ns()
                try:
                    return original(*args, **kwargs)
                finally:
                    elapsed = time.perf_counter_ns() - started
                    setattr(self.current, attr, getattr(self.current, attr) + elapsed)

            return timed

        return make


def bench_paper_broker(on_place: Callable[[], None]) -> Any:
    """The registry's paper broker for a benchmark run: ``on_place()`` is
    called as each ``place_order`` is entered, and an order is forgotten
    once its answer is final.

    The paper broker keeps every order it was ever sent (a simulated
    venue's book, which a real venue keeps on its side). In the worker's
    process that book made every young-generation pass of the garbage
    collector scan about eight objects per order ever sent, and those
    passes fell inside events: at 200 followers, a pass every 50 events
    took 8-11 ms (``gc.callbacks``), the case's p99 41 ms against 27.5 ms
    with the book forgotten. The figures are the worker's, not the
    simulator's. Raises :class:`BenchError` when the broker's book is
    not where this expects it."""
    from django.conf import settings

    from routing.brokers.paper import PaperBroker
    from routing.selectors import engine_contract_specs

    class BenchPaperBroker(PaperBroker):
        async def place_order(self, order: Any) -> Any:
            on_place()
            result = await super().place_order(order)
            if result.is_final:
                self._orders.pop((order.account, order.client_order_id), None)
            return result

        def held(self) -> int:
            """Orders the broker still holds (not answered finally)."""
            return len(self._orders)

    broker = BenchPaperBroker(engine_contract_specs(), slippage_ticks=settings.PAPER_SLIPPAGE_TICKS)
    if not isinstance(getattr(broker, "_orders", None), dict):
        raise BenchError("PaperBroker._orders is gone: update routing/runtime/bench_case.py")
    return broker


def _timed_paper_broker(probe: _Probe) -> Any:
    """:func:`bench_paper_broker` stamping each ``place_order`` call on the
    probe's current event."""
    return bench_paper_broker(lambda: probe.current.places.append(time.perf_counter_ns()))


@dataclass
class _Case:
    leader_id: int
    leader_external_id: str
    group_id: int


def _setup_case(followers: int, seed: int, *, label: str = "case", every: bool = False) -> _Case:
    """One user, a paper leader, a group of ``followers`` paper followers
    with varied ratios, balances and risk limits (``label`` keeps the names
    of two set-ups of the same size apart).

    The varied mix skips some followers (ratio 0.5 of a 1-lot rounds to no
    contract) and blocks others (a limit reached). With ``every``, every
    leader event orders every follower instead: ratios 1 to 3 (at least
    one contract of any fill) and limits the stream never reaches (30
    contracts: the leader holds 9 at most; a daily loss of the whole
    balance), so the orders offered are events x followers (the sustained
    case, whose target counts 25 events a second into 200 followers as
    5,000 orders a second).

    The user, leader and group come from the services; the followers'
    accounts, memberships, risk limits and journal rows are the rows
    ``broker_account_create``, ``follower_add`` and ``risk_limit_set`` would
    write (fresh accounts of the group's owner: their checks hold), written
    in bulk in one transaction (a thousand followers in well under a second
    instead of three service transactions each), then the route
    configuration version is bumped as their saves would bump it."""
    from django.db import transaction

    from accounts.models import BrokerAccount, User
    from accounts.services import broker_account_create
    from journal.models import EventType
    from journal.services import journal_entries_add, journal_entry
    from routing.models import RATIO_MAX, RATIO_MIN, CopyGroup, Follower, RiskLimit
    from routing.services.copy_groups import copy_group_create
    from routing.services.route_state import route_config_bump

    rng = random.Random(seed * 1000 + followers)  # noqa: S311 - reproducible set-up
    prefix = "bench" if label == "case" else f"bench-{label}"
    ratios = [
        Decimal(r) for r in (("1", "2", "3") if every else ("0.5", "1", "1.5", "2", "2.5", "3"))
    ]
    assert all(RATIO_MIN <= r <= RATIO_MAX for r in ratios)
    with transaction.atomic():
        user = User.objects.create_user(f"{prefix}{followers}-{seed}", password=None)
        leader = broker_account_create(
            owner=user,
            name="Bench leader",
            balance=Decimal(150_000),
            external_id=f"{prefix}-lead-{followers}",
        )
        # Active: the benchmark measures sized copies (level 1 would force one contract).
        group = copy_group_create(
            owner=user,
            name=f"Bench {label} {followers}",
            leader=leader,
            level=CopyGroup.Level.ACTIVE,
        )
        accounts, plans = [], []
        for index in range(followers):
            balance = Decimal(rng.choice((25_000, 50_000, 100_000, 150_000)))
            kind = rng.choice(("evaluation", "funded"))
            ratio, max_contracts = rng.choice(ratios), rng.choice((30,) if every else (5, 10, 20))
            accounts.append(
                BrokerAccount(
                    owner=user,
                    name=f"Follower {index + 1}",
                    platform=BrokerAccount.Platform.PAPER,
                    external_id=f"{prefix}-{followers}-f{index + 1}",
                    kind=kind,
                    starting_balance=balance,
                    balance=balance,
                )
            )
            plans.append((ratio, balance if every else balance / 25, max_contracts))
        BrokerAccount.objects.bulk_create(accounts)
        Follower.objects.bulk_create(
            Follower(group=group, account=account, ratio=ratio)
            for account, (ratio, _, _) in zip(accounts, plans, strict=True)
        )
        RiskLimit.objects.bulk_create(
            RiskLimit(account=account, daily_loss=daily_loss, max_contracts=max_contracts)
            for account, (_, daily_loss, max_contracts) in zip(accounts, plans, strict=True)
        )
        journal = []
        for account, (ratio, daily_loss, max_contracts) in zip(accounts, plans, strict=True):
            journal.append(
                journal_entry(
                    owner_id=user.pk,
                    event_type=EventType.FOLLOWER_ADDED,
                    group_id=group.pk,
                    account_id=account.pk,
                    actor_label="bench",
                    message=f"{account.name} follows {group.name!r} at ratio {ratio}",
                    after={"ratio": ratio},
                )
            )
            journal.append(
                journal_entry(
                    owner_id=user.pk,
                    event_type=EventType.RISK_LIMIT_CHANGED,
                    account_id=account.pk,
                    actor_label="bench",
                    message=f"Risk limits of {account.name} set",
                    before={"daily_loss": None, "max_contracts": None},
                    after={"daily_loss": daily_loss, "max_contracts": max_contracts},
                )
            )
        journal_entries_add(journal)
        route_config_bump()
    return _Case(leader.pk, leader.external_id, group.pk)
