"""Equity curves of a route's accounts and its copy variance (reads only).

An account's curve is its cumulative realized PnL in dollars over a range
of CME trading dates, from the journal's fills (each fill carries the PnL
it realized, :mod:`journal.fills`), starting at 0; when the range reaches
the current session, a last point at ``now`` adds the open PnL of its
positions at their last marks. The group's curve is the sum of its
followers' (the leader is shown beside it).

**Copy variance** compares each follower's PnL with the leader's scaled by
the follower's sizing factor (copy value x ratio, x balance share on
percent-of-balance sizing: :func:`routing.engine.sizing.size_factor`):
``variance = follower PnL - leader PnL x factor``. Rounding to whole
contracts, slippage, blocked or missed copies and a route at level 1
(Test: one contract) all show in it; in fixed copy mode the follower's size
does not follow the leader's, so the factor compares sizes only when the
leader trades one contract.

Resolution: every series on one time axis, each carried forward between
its own moves, with at most ``POINTS_MAX`` times: one per closing fill when
the range has so few, else the fills summed per minute, else per hour
(a bucket's point at its end), else one point per trading date from the
session totals (:class:`journal.models.SessionRealized`). A trading date
``d`` covers 17:00 America/Chicago the day before to 17:00 on ``d``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Sum
from django.db.models.functions import Trunc

from copytrade.core.numbers import cents
from journal.models import Fill, Position, SessionRealized
from routing.engine.sessions import CHICAGO, session_bounds, trading_date
from routing.engine.sizing import SizingError, size_factor
from routing.engine.types import FollowerState, GroupConfig, SizingBasis
from routing.engine.watch import plain
from routing.models import CopyGroup, Follower

POINTS_MAX = 2_000
# Rows (account x bucket) one bucketed read returns at most.
BUCKET_ROWS_MAX = 20_000
_BUCKETS = (("minute", timedelta(minutes=1)), ("hour", timedelta(hours=1)))
RANGE_DAYS_MAX = 400
_ZERO = Decimal(0)
_CENT = Decimal("0.01")
_OPEN = time(17, 0)
_CLOSE = time(16, 0)


def range_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """Aware UTC ``[start, end)`` of trading dates ``first`` to ``last``
    (inclusive): 17:00 Chicago the day before ``first`` to the open after
    ``last``'s session (17:00 on ``last``; for a Friday the Sunday open, as
    :func:`routing.engine.sessions.trading_date` gives the weekend to
    Friday). Raises ``ValueError`` when ``last`` is before ``first``."""
    if last < first:
        raise ValueError(f"last trading date {last} is before the first {first}")
    start = datetime.combine(first - timedelta(days=1), _OPEN, tzinfo=CHICAGO)
    opens, ends = session_bounds(last)
    if opens == ends:  # no session closes on ``last`` (a weekend day)
        ends = datetime.combine(last, _OPEN, tzinfo=CHICAGO).astimezone(UTC)
    return start.astimezone(UTC), ends


@dataclass(frozen=True, slots=True)
class AccountCurve:
    """One account's curve: ``values`` (dollars) at each of the range's
    times; ``realized`` in the range, ``open_pnl`` of its positions now
    (``None`` when the range does not reach the current session),
    ``total`` both together."""

    account_id: int
    name: str
    values: list[Decimal]
    realized: Decimal
    open_pnl: Decimal | None
    total: Decimal


@dataclass(frozen=True, slots=True)
class Variance:
    """One follower against the leader scaled by ``factor`` (``None``, with
    ``note`` saying why, when the factor cannot be computed)."""

    follower_id: int
    account_id: int
    name: str
    factor: Decimal | None
    formula: str
    follower_pnl: Decimal
    scaled_leader_pnl: Decimal | None
    variance: Decimal | None
    scaled_values: list[Decimal] | None
    note: str


@dataclass(frozen=True, slots=True)
class DayRow:
    """Realized dollars of one trading date: the leader's and the followers' sum."""

    day: date
    leader: Decimal
    followers: Decimal


@dataclass(frozen=True, slots=True)
class GroupEquity:
    """A route's curves over ``first``..``last`` on one time axis ``times``
    (aware UTC; the first, where every curve is 0, is just before the
    first move, :func:`_anchor`). ``resolution`` is
    ``"fill"``, ``"minute"``, ``"hour"`` or ``"day"``; ``includes_now``
    when the range reaches the current session (its last point is then
    now, with open PnL)."""

    first: date
    last: date
    resolution: str
    includes_now: bool
    times: list[datetime]
    leader: AccountCurve
    followers: list[AccountCurve]
    group: AccountCurve
    variance: list[Variance]
    days: list[DayRow]


def group_equity(*, group: CopyGroup, first: date, last: date, at: datetime) -> GroupEquity:
    """The equity curves of ``group``'s leader, followers and the group over
    trading dates ``first``..``last``, valued at aware ``at`` (now), with
    each follower's copy variance. Raises ``ValueError`` for a range that
    is reversed or longer than ``RANGE_DAYS_MAX`` days. At most six
    queries, each returning a bounded number of rows.
    """
    if (last - first).days + 1 > RANGE_DAYS_MAX:
        raise ValueError(f"a range covers at most {RANGE_DAYS_MAX} days")
    start, end = range_bounds(first, last)
    followers = list(group.followers.select_related("account").order_by("pk"))
    ids = [group.leader_id, *(f.account_id for f in followers)]
    includes_now = start <= at < end
    resolution, moves = _moves(ids, first, last, at)
    times = sorted({when for when, _, _ in moves})
    first_move = times[0] if times else None
    if includes_now and (not times or at > times[-1]):
        times.append(at)  # the open PnL now, after the last fill
    times.insert(0, _anchor(start, first_move, times[-1] if times else start))
    open_now = _open_pnl(ids) if includes_now else {}
    series = _cumulative(ids, times, moves, open_now)
    curves = {
        account_id: AccountCurve(
            account_id=account_id,
            name=name,
            values=series[account_id],
            realized=sum((pnl for _, a, pnl in moves if a == account_id), _ZERO),
            open_pnl=open_now.get(account_id, _ZERO) if includes_now else None,
            total=series[account_id][-1],
        )
        for account_id, name in [
            (group.leader_id, group.leader_label),
            *((f.account_id, f.account.name) for f in followers),
        ]
    }
    leader = curves[group.leader_id]
    config = group.to_engine(mappings=())  # sizing only: no mapping is read
    members = [curves[f.account_id] for f in followers]
    return GroupEquity(
        first=first,
        last=last,
        resolution=resolution,
        includes_now=includes_now,
        times=times,
        leader=leader,
        followers=members,
        group=_summed("Group (followers)", members, len(times), includes_now),
        variance=[_variance(group, config, f, curves[f.account_id], leader) for f in followers],
        days=_days(moves, group.leader_id),
    )


Moves = list[tuple[datetime, int, Decimal]]


def _anchor(start: datetime, first_move: datetime | None, last: datetime) -> datetime:
    """Where the curves start at 0: just before the first move (by a
    fiftieth of the chart's span up to ``last``, at least a second), so a
    session whose trading began at 9:30 is not drawn flat from 17:00 the day
    before; the range's ``start`` when nothing moved."""
    if first_move is None:
        return start
    pad = max((last - first_move) / 50, timedelta(seconds=1))
    return max(start, first_move - pad)


def _moves(ids: Sequence[int], first: date, last: date, at: datetime) -> tuple[str, Moves]:
    """The finest resolution with at most ``POINTS_MAX`` times and its
    moves ``(time, account, realized dollars)``, oldest first."""
    start, end = range_bounds(first, last)
    closing = Fill.objects.filter(
        account_id__in=ids, filled_at__gte=start, filled_at__lt=end
    ).exclude(realized_pnl=0)
    fills = list(
        closing.order_by("filled_at", "pk").values_list("filled_at", "account_id", "realized_pnl")[
            : POINTS_MAX + 1
        ]
    )
    if len(fills) <= POINTS_MAX:
        return "fill", fills
    for kind, width in _BUCKETS:
        rows = list(
            closing.annotate(bucket=Trunc("filled_at", kind, tzinfo=UTC))
            .values("bucket", "account_id")
            .annotate(pnl=Sum("realized_pnl"))
            .order_by("bucket", "account_id")
            .values_list("bucket", "account_id", "pnl")[: BUCKET_ROWS_MAX + 1]
        )
        if len(rows) <= BUCKET_ROWS_MAX and len({b for b, _, _ in rows}) <= POINTS_MAX:
            return kind, [(min(bucket + width, at), a, pnl) for bucket, a, pnl in rows]
    return "day", _day_moves(ids, first, last, at)


def _day_moves(ids: Sequence[int], first: date, last: date, at: datetime) -> Moves:
    """One move per account and trading date from the session totals, at
    the session's 16:00 Chicago close (at ``at`` for a session still open)."""
    rows = (
        SessionRealized.objects.filter(
            account_id__in=ids, trading_date__gte=first, trading_date__lte=last
        )
        .exclude(realized_pnl=0)
        .order_by("trading_date", "account_id")
        .values_list("trading_date", "account_id", "realized_pnl")
    )
    return [
        (min(datetime.combine(day, _CLOSE, tzinfo=CHICAGO).astimezone(UTC), at), account_id, pnl)
        for day, account_id, pnl in rows
    ]


def _open_pnl(ids: Sequence[int]) -> dict[int, Decimal]:
    """Unrealized dollars of each account's open positions at their last marks."""
    return dict(
        Position.objects.filter(account_id__in=ids)
        .exclude(qty=0)
        .values("account_id")
        .annotate(total=Sum("unrealized_pnl"))
        .values_list("account_id", "total")
    )


def _cumulative(
    ids: Sequence[int],
    times: Sequence[datetime],
    moves: Iterable[tuple[datetime, int, Decimal]],
    open_now: Mapping[int, Decimal],
) -> dict[int, list[Decimal]]:
    """Each account's running total at every time (carried forward between
    its own moves); the open PnL is added at the last time when given."""
    index = {when: i for i, when in enumerate(times)}
    steps: dict[int, list[Decimal]] = {a: [_ZERO] * len(times) for a in ids}
    for when, account_id, pnl in moves:
        steps[account_id][index[when]] += pnl
    series = {}
    for account_id, deltas in steps.items():
        running, values = _ZERO, []
        for delta in deltas:
            running += delta
            values.append(running)
        if open_now:
            values[-1] += open_now.get(account_id, _ZERO)
        series[account_id] = values
    return series


def _summed(
    name: str, curves: Sequence[AccountCurve], points: int, includes_now: bool
) -> AccountCurve:
    return AccountCurve(
        account_id=0,
        name=name,
        values=[sum((c.values[i] for c in curves), _ZERO) for i in range(points)],
        realized=sum((c.realized for c in curves), _ZERO),
        open_pnl=sum((c.open_pnl or _ZERO for c in curves), _ZERO) if includes_now else None,
        total=sum((c.total for c in curves), _ZERO),
    )


def _variance(
    group: CopyGroup,
    config: GroupConfig,
    follower: Follower,
    own: AccountCurve,
    leader: AccountCurve,
) -> Variance:
    state = FollowerState(
        key=str(follower.pk),
        ratio=follower.ratio,
        sizing_basis=SizingBasis(follower.sizing_basis),
        balance=follower.account.balance,
    )
    try:
        factor, formula = size_factor(config, state)
    except SizingError as exc:
        return Variance(
            follower.pk, own.account_id, own.name, None, "", own.total, None, None, None, str(exc)
        )
    notes = []
    if group.copy_mode == CopyGroup.CopyMode.FIXED:
        notes.append("fixed copy mode: the follower's size does not follow the leader's")
    if group.level == CopyGroup.Level.TEST:
        notes.append("level 1 Test: each follower copies one contract")
    scaled = leader.total * factor
    return Variance(
        follower_id=follower.pk,
        account_id=own.account_id,
        name=own.name,
        factor=factor,
        formula=formula,
        follower_pnl=own.total,
        scaled_leader_pnl=scaled,
        variance=own.total - scaled,
        scaled_values=[v * factor for v in leader.values],
        note="; ".join(notes),
    )


def _days(moves: Iterable[tuple[datetime, int, Decimal]], leader_id: int) -> list[DayRow]:
    sums: dict[date, list[Decimal]] = {}
    for when, account_id, pnl in moves:
        row = sums.setdefault(trading_date(when), [_ZERO, _ZERO])
        row[0 if account_id == leader_id else 1] += pnl
    return [DayRow(day, leader, rest) for day, (leader, rest) in sorted(sums.items())]


# -- JSON -------------------------------------------------------------------------


def _points(values: Sequence[Decimal]) -> list[float]:
    # A chart needs numbers; the totals beside it keep the exact cents.
    return [float(v.quantize(_CENT)) for v in values]


def _curve(curve: AccountCurve) -> dict[str, Any]:
    return {
        "account_id": curve.account_id,
        "name": curve.name,
        "realized": cents(curve.realized),
        "open": cents(curve.open_pnl),
        "total": cents(curve.total),
        "values": _points(curve.values),
    }


def group_equity_payload(equity: GroupEquity) -> dict[str, Any]:
    """The JSON the performance page's charts read: ``x`` seconds since the
    epoch (UTC), each series' ``values`` in dollars as numbers (cents),
    totals and variance as exact text."""
    return {
        "first": equity.first.isoformat(),
        "last": equity.last.isoformat(),
        "resolution": equity.resolution,
        "includes_now": equity.includes_now,
        "x": [when.timestamp() for when in equity.times],
        "leader": _curve(equity.leader),
        "followers": [_curve(c) for c in equity.followers],
        "group": _curve(equity.group),
        "variance": [
            {
                "follower_id": v.follower_id,
                "account_id": v.account_id,
                "name": v.name,
                "factor": str(plain(v.factor)) if v.factor is not None else None,
                "formula": v.formula,
                "follower_pnl": cents(v.follower_pnl),
                "scaled_leader_pnl": cents(v.scaled_leader_pnl),
                "variance": cents(v.variance),
                "scaled_values": _points(v.scaled_values) if v.scaled_values else None,
                "note": v.note,
            }
            for v in equity.variance
        ],
        "days": [
            {"day": d.day.isoformat(), "leader": cents(d.leader), "followers": cents(d.followers)}
            for d in equity.days
        ],
    }
