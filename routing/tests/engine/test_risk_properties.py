"""Property tests for ``decide_copies`` with random risk limits.

Each example plays a random leader path in MNQ against up to four followers
with random ratios and random per-account limits (per order, per position,
exposure cap, percent-of-balance position cap, direction, halts, daily loss,
scale down or block) on a route with random limits (level, max accounts,
max contracts per account, max total contracts, stop and slippage ticks).
Every SEND decision is applied, as the order router does once it fills, and
after every event:

* no follower holds more than its max position, the route's max contracts
  per account, or what its exposure caps allow;
* the followers' total never exceeds the route's max total contracts (they
  start flat, so within it), also part-way through an event;
* the exit part of every order equals the exit part the same follower gets
  with no limits at all (exits are never refused), so a follower is never
  opposite the leader and is flat whenever the leader is;
* an entry only goes out when every gate passes, its order stays within the
  per-order cap (exit part included) and, with ``on_breach=block``, it is
  never scaled;
* the entry sent is exactly what the rules allow, worked out independently
  from the rules (:func:`_expected_entry`): the smallest room left by any
  cap, the whole entry when it fits, and ``scaled_from`` set exactly when cut;
* the same inputs give the same decisions.

Three runs: caps only, gates only (route level, max accounts, halt, daily
loss, drawdown floor, consistency lock, daily profit target, route session
loss, direction), and everything together.

MNQ: tick 0.25 pt = $0.50 (CME Group contract specifications).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.engine.copier import LeaderMove, decide_copies
from routing.engine.limits import (
    AccountSession,
    Direction,
    OnBreach,
    RiskLimits,
    RouteLevel,
    RouteLimits,
)
from routing.engine.types import (
    ContractSpec,
    CopyDecision,
    CopyMode,
    DecisionStatus,
    FollowerState,
    GroupConfig,
    PartialExit,
    RoundingMode,
    Side,
)

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)
SYMBOL = "MNQZ6"
MNQ = ContractSpec(
    root="MNQ",
    name="Micro E-mini Nasdaq-100",
    exchange="CME",
    tick_size=Decimal("0.25"),
    tick_value=Decimal("0.50"),
    point_value=Decimal(2),
    micro_of=None,
    currency="USD",
    source="CME Group contract specifications (hand-copied for tests)",
)
SPECS = {"MNQ": MNQ}
FLOOR = Decimal(48000)  # every account's drawdown floor: 50 000 start - 2 000 static

ratios = st.decimals(min_value=Decimal("0.1"), max_value=Decimal("4"), places=1)
fills = st.lists(
    st.tuples(
        st.sampled_from(list(Side)),
        st.integers(min_value=1, max_value=4) | st.integers(min_value=1, max_value=20),
    ),
    min_size=1,
    max_size=25,
)


@dataclass(frozen=True)
class Account:
    """A follower's fixed settings; positions are played separately."""

    key: str
    ratio: Decimal
    limits: RiskLimits
    balance: Decimal | None
    session_pnl: Decimal
    halt: str | None
    equity: Decimal | None = None
    realized: Decimal = Decimal(0)

    def state(self, held: int) -> FollowerState:
        return FollowerState(
            key=self.key,
            ratio=self.ratio,
            positions={SYMBOL: held},
            session_pnl=self.session_pnl,
            limits=self.limits,
            balance=self.balance,
            session=AccountSession(
                halt=self.halt,
                equity=self.equity,
                realized=self.realized,
                drawdown_floor=FLOOR,
            ),
        )

    def unlimited(self, held: int) -> FollowerState:
        return FollowerState(key=self.key, ratio=self.ratio, positions={SYMBOL: held})


NO_LIMIT: st.SearchStrategy[None] = st.none()


@st.composite
def accounts(draw: st.DrawFn, key: str, *, gates: bool = True, caps: bool = True) -> Account:
    """A follower with random gates (halt, daily loss, direction) and/or random
    caps; the exposure caps are drawn small enough to bind at MNQ sizes."""
    cap = (lambda s: s | NO_LIMIT) if caps else (lambda s: NO_LIMIT)
    limits = RiskLimits(
        daily_loss=draw(st.sampled_from([None, None, None, Decimal(500)]) if gates else NO_LIMIT),
        max_contracts=draw(cap(st.integers(min_value=1, max_value=12))),
        max_position=draw(cap(st.integers(min_value=1, max_value=12))),
        position_cap_pct=draw(cap(st.decimals(min_value=Decimal("0.1"), max_value=2, places=1))),
        exposure_cap=draw(cap(st.decimals(min_value=1, max_value=120, places=2))),
        max_drawdown=draw(st.sampled_from([None, None, Decimal(2000)]) if gates else NO_LIMIT),
        profit_target=draw(st.sampled_from([None, None, Decimal(3000)]) if gates else NO_LIMIT),
        daily_profit_target=draw(
            st.sampled_from([None, None, Decimal(100), Decimal(250)]) if gates else NO_LIMIT
        ),
        on_breach=draw(st.sampled_from(list(OnBreach))),
        direction=draw(
            st.sampled_from([Direction.BOTH] * 4 + list(Direction))
            if gates
            else st.just(Direction.BOTH)
        ),
    )
    return Account(
        key=key,
        ratio=draw(ratios),
        limits=limits,
        balance=draw(
            st.decimals(min_value=1000, max_value=20000, places=0) | st.sampled_from([None])
        ),
        session_pnl=draw(
            st.sampled_from(
                [Decimal(0)] * 3 + [Decimal(-100), Decimal(-500), Decimal(100), Decimal("249.99")]
            )
        ),
        halt=draw(st.sampled_from([None] * 5 + ["emergency flatten"]) if gates else NO_LIMIT),
        # Around the drawdown floor (48 000) and 30% of the 3 000 target (900).
        equity=draw(st.sampled_from([None, FLOOR, FLOOR + Decimal("0.01"), Decimal(50000)])),
        realized=draw(st.sampled_from([Decimal(0), Decimal(900), Decimal("900.01")])),
    )


@st.composite
def routes(draw: st.DrawFn, *, gates: bool = True, caps: bool = True) -> RouteLimits:
    """A route with random level and gates and/or random contract caps."""
    levels = [RouteLevel.ACTIVE] * 3 + [RouteLevel.TEST, RouteLevel.REDUCED]
    if gates:
        level = draw(st.sampled_from(levels) | st.sampled_from(list(RouteLevel)))
    else:
        level = draw(st.sampled_from([RouteLevel.ACTIVE, RouteLevel.ACTIVE, RouteLevel.TEST]))
    cap = (lambda s: s | NO_LIMIT) if caps else (lambda s: NO_LIMIT)
    return RouteLimits(
        level=level,
        reviewed=draw(st.booleans()),
        max_accounts=draw(st.integers(min_value=1, max_value=4) | NO_LIMIT if gates else NO_LIMIT),
        max_contracts_per_account=draw(cap(st.integers(min_value=1, max_value=12))),
        max_total_contracts=draw(cap(st.integers(min_value=1, max_value=25))),
        max_session_loss=draw(
            st.sampled_from([None, None, Decimal(500), Decimal(600)]) if gates else NO_LIMIT
        ),
        stop_ticks=draw(st.integers(min_value=8, max_value=40) | st.sampled_from([None])),
        slippage_ticks=draw(st.integers(min_value=0, max_value=4)),
    )


def _accounts(*, gates: bool = True, caps: bool = True) -> st.SearchStrategy[tuple[Account, ...]]:
    return st.integers(min_value=1, max_value=4).flatmap(
        lambda n: st.tuples(*(accounts(f"f{i}", gates=gates, caps=caps) for i in range(n)))
    )


def _sign(qty: int) -> int:
    return (qty > 0) - (qty < 0)


def _exit_part(d: CopyDecision) -> int:
    """Contracts of the order that go towards flat."""
    if d.qty == 0 or d.position_before == 0 or d.side.sign == _sign(d.position_before):
        return 0
    return min(d.qty, abs(d.position_before))


def _caps_of(account: Account, route: RouteLimits) -> list[int]:
    """Largest |position| each size cap allows in the one contract played."""
    caps = [
        c for c in (account.limits.max_position, route.max_contracts_per_account) if c is not None
    ]
    if route.stop_ticks is not None:
        per_contract = (route.stop_ticks + route.slippage_ticks) * MNQ.tick_value
        if account.limits.exposure_cap is not None:
            caps.append(int(account.limits.exposure_cap // per_contract))
        if account.limits.position_cap_pct is not None and account.balance:
            dollars = account.balance * account.limits.position_cap_pct / 100
            caps.append(int(dollars // per_contract))
    return caps


def _entries_open(account: Account, route: RouteLimits, eligible: bool, route_pnl: Decimal) -> bool:
    """Whether any entry may pass the gates (direction aside)."""
    if route.level in (RouteLevel.OFF, RouteLevel.LOCKED):
        return False
    if route.level is RouteLevel.REDUCED and not (route.reviewed and route.max_total_contracts):
        return False
    if not eligible or account.halt is not None:
        return False
    limits = account.limits
    if limits.daily_loss is not None and -account.session_pnl >= limits.daily_loss:
        return False
    if limits.max_drawdown is not None and (account.equity is None or account.equity <= FLOOR):
        return False
    if limits.profit_target is not None and account.realized > Decimal(900):
        return False
    if limits.daily_profit_target is not None and account.session_pnl >= limits.daily_profit_target:
        return False
    return not (route.max_session_loss is not None and -route_pnl >= route.max_session_loss)


def _expected_entry(
    account: Account,
    route: RouteLimits,
    *,
    wanted: int,
    sign: int,
    held: int,
    exit_part: int,
    running: int,
    open_: bool,
) -> int:
    """The entry the issue's rules allow, worked out from the rules themselves.

    ``wanted`` is the entry with no limits, ``sign`` its direction, ``held``
    the follower's position before the order, ``running`` the followers'
    total before it. Every cap leaves a room; the entry fits the smallest, is
    cut to it (scale down) or dropped (block).
    """
    limits = account.limits
    if not wanted or not open_:
        return 0
    if (limits.direction is Direction.LONG_ONLY and sign < 0) or (
        limits.direction is Direction.SHORT_ONLY and sign > 0
    ):
        return 0
    base = abs(held) - exit_part  # this contract after the exit part (the only one held)
    rooms = []
    if limits.max_contracts is not None:
        rooms.append(limits.max_contracts - exit_part)
    if limits.max_position is not None:
        rooms.append(limits.max_position - base)
    if route.max_contracts_per_account is not None:
        rooms.append(route.max_contracts_per_account - base)
    if limits.position_cap_pct is not None or limits.exposure_cap is not None:
        if route.stop_ticks is None:
            return 0
        per_contract = (route.stop_ticks + route.slippage_ticks) * MNQ.tick_value
        if limits.position_cap_pct is not None:
            if account.balance is None:
                return 0
            dollars = account.balance * limits.position_cap_pct / 100
            rooms.append(int(dollars // per_contract) - base)
        if limits.exposure_cap is not None:
            left = limits.exposure_cap - base * per_contract
            rooms.append(int(left // per_contract) if left >= 0 else -1)
    if route.max_total_contracts is not None:
        rooms.append(route.max_total_contracts - (running - exit_part))
    room = max(min(rooms, default=wanted), 0)
    if wanted <= room:
        return wanted
    return room if limits.on_breach is OnBreach.SCALE_DOWN else 0


def _play_and_check(
    sequence: list[tuple[Side, int]],
    route: RouteLimits,
    accts: tuple[Account, ...],
    copy_mode: CopyMode,
    rounding: RoundingMode,
    partial_exit: PartialExit,
) -> None:
    """Play ``sequence``, apply every SEND, and check the module's invariants."""
    group = GroupConfig(copy_mode, Decimal(1), rounding, partial_exit=partial_exit, limits=route)
    free_route = RouteLimits(
        level=RouteLevel.TEST if route.level is RouteLevel.TEST else RouteLevel.ACTIVE
    )
    free_group = GroupConfig(
        copy_mode, Decimal(1), rounding, partial_exit=partial_exit, limits=free_route
    )
    by_key = {a.key: a for a in accts}
    eligible = {a.key for a in accts[: route.max_accounts]}
    route_pnl = sum((a.session_pnl for a in accts), Decimal(0))
    held = dict.fromkeys(by_key, 0)
    leader = 0
    for n, (side, qty) in enumerate(sequence):
        move = LeaderMove(f"L:{n}", SYMBOL, leader, leader + side.sign * qty, Decimal(21000))
        states = [a.state(held[a.key]) for a in accts]
        decisions = decide_copies(move, group, states, SPECS, route_key="r")
        assert decisions == decide_copies(move, group, states, SPECS, route_key="r")
        free = decide_copies(
            move, free_group, [a.unlimited(held[a.key]) for a in accts], SPECS, route_key="r"
        )
        running = sum(abs(q) for q in held.values())
        for d, unlimited in zip(decisions, free, strict=True):
            account = by_key[d.follower]
            assert d.position_before == held[d.follower]
            # Exits are never refused: the exit part is what no limits at all would send.
            assert _exit_part(d) == _exit_part(unlimited)
            entry = d.qty - _exit_part(d)
            wanted = unlimited.qty - _exit_part(unlimited)
            open_ = _entries_open(account, route, d.follower in eligible, route_pnl)
            assert entry == _expected_entry(
                account,
                route,
                wanted=wanted,
                sign=_sign(unlimited.target),
                held=d.position_before,
                exit_part=_exit_part(d),
                running=running,
                open_=open_,
            )
            limits = account.limits
            unpriced = route.stop_ticks is None and (
                limits.exposure_cap is not None or limits.position_cap_pct is not None
            )
            if unpriced or (limits.position_cap_pct is not None and account.balance is None):
                assert entry == 0  # exposure caps that cannot be computed fail closed
            if entry:
                assert d.status is DecisionStatus.SEND
                assert open_
                direction = account.limits.direction
                assert not (direction is Direction.LONG_ONLY and d.target < 0)
                assert not (direction is Direction.SHORT_ONLY and d.target > 0)
                if account.limits.max_contracts is not None:
                    assert d.qty <= account.limits.max_contracts
                for cap in _caps_of(account, route):
                    assert abs(d.target) <= cap
                if route.level is RouteLevel.TEST:
                    assert abs(d.target) == 1
                if account.limits.on_breach is OnBreach.BLOCK:
                    assert d.scaled_from is None
                # scaled_from is set exactly when the entry was cut, to what was wanted.
                assert d.scaled_from == (wanted if entry < wanted else None)
            else:
                assert d.scaled_from is None
            running += abs(d.target) - abs(d.position_before)
            if entry and route.max_total_contracts is not None:
                assert running <= route.max_total_contracts
            held[d.follower] = d.target
        leader = move.after
        for key, position in held.items():
            assert position * leader >= 0, f"{key} {position:+d} opposite leader {leader:+d}"
            if leader == 0:
                assert position == 0
            for cap in _caps_of(by_key[key], route):
                assert abs(position) <= cap
        if route.max_total_contracts is not None:
            assert sum(abs(q) for q in held.values()) <= route.max_total_contracts


_MODES = {
    "copy_mode": st.sampled_from(list(CopyMode)),
    "rounding": st.sampled_from(list(RoundingMode)),
    "partial_exit": st.sampled_from(list(PartialExit)),
}


@PROPERTY_SETTINGS
@given(sequence=fills, route=routes(gates=False), accts=_accounts(gates=False), **_MODES)
def test_caps_hold_on_every_leader_path(
    sequence: list[tuple[Side, int]],
    route: RouteLimits,
    accts: tuple[Account, ...],
    copy_mode: CopyMode,
    rounding: RoundingMode,
    partial_exit: PartialExit,
) -> None:
    _play_and_check(sequence, route, accts, copy_mode, rounding, partial_exit)


@PROPERTY_SETTINGS
@given(sequence=fills, route=routes(caps=False), accts=_accounts(caps=False), **_MODES)
def test_gates_hold_on_every_leader_path(
    sequence: list[tuple[Side, int]],
    route: RouteLimits,
    accts: tuple[Account, ...],
    copy_mode: CopyMode,
    rounding: RoundingMode,
    partial_exit: PartialExit,
) -> None:
    _play_and_check(sequence, route, accts, copy_mode, rounding, partial_exit)


@PROPERTY_SETTINGS
@given(sequence=fills, route=routes(), accts=_accounts(), **_MODES)
def test_all_limits_together_hold_on_every_leader_path(
    sequence: list[tuple[Side, int]],
    route: RouteLimits,
    accts: tuple[Account, ...],
    copy_mode: CopyMode,
    rounding: RoundingMode,
    partial_exit: PartialExit,
) -> None:
    _play_and_check(sequence, route, accts, copy_mode, rounding, partial_exit)


@PROPERTY_SETTINGS
@given(
    sequence=fills,
    ratios_=st.lists(ratios, min_size=2, max_size=4),
    max_total=st.integers(min_value=1, max_value=15),
    on_breach=st.sampled_from(list(OnBreach)),
)
def test_route_total_is_filled_in_follower_order(
    sequence: list[tuple[Side, int]],
    ratios_: list[Decimal],
    max_total: int,
    on_breach: OnBreach,
) -> None:
    """With only the route total as a limit, a follower's entry is cut only when the
    route is full up to it, and then to exactly the room left (scale) or to none (block)."""
    group = GroupConfig(
        CopyMode.MULTIPLIER, Decimal(1), limits=RouteLimits(max_total_contracts=max_total)
    )
    free_group = GroupConfig(CopyMode.MULTIPLIER, Decimal(1))
    keys = [f"f{i}" for i in range(len(ratios_))]
    held = dict.fromkeys(keys, 0)
    leader = 0
    for n, (side, qty) in enumerate(sequence):
        move = LeaderMove(f"L:{n}", SYMBOL, leader, leader + side.sign * qty, Decimal(21000))

        def states(limits: RiskLimits) -> list[FollowerState]:
            return [
                FollowerState(k, r, {SYMBOL: held[k]}, limits=limits)
                for k, r in zip(keys, ratios_, strict=True)
            ]

        decisions = decide_copies(
            move, group, states(RiskLimits(on_breach=on_breach)), SPECS, route_key="r"
        )
        free = decide_copies(move, free_group, states(RiskLimits()), SPECS, route_key="r")
        running = sum(abs(q) for q in held.values())
        for d, unlimited in zip(decisions, free, strict=True):
            wanted = unlimited.qty - _exit_part(unlimited)
            exit_part = _exit_part(d)
            room = max(max_total - (running - exit_part), 0)
            expected = (
                wanted if wanted <= room else (room if on_breach is OnBreach.SCALE_DOWN else 0)
            )
            assert d.qty - exit_part == expected
            running += abs(d.target) - abs(d.position_before)
            held[d.follower] = d.target
        leader = move.after
