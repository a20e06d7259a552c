"""The group page's live state (the trader's cockpit): one snapshot read over
HTTP, re-read whenever the live feed says something moved.

:func:`group_snapshot` is everything the page renders after its first
paint: the page header (route level and its reason, pause, replay status,
broker connections), each follower's badges and this session's eligibility,
the positions panel (the leader and every follower, each open position with
its entry, mark and PnL, what copying manages of it, a close under way),
the last position closes, the last 25 copy orders and the last 25 copied
round trips per follower. Prices are written to their contract's tick
precision (:func:`copytrade.core.numbers.price`), money as signed
dollar strings with two decimals (the page formats them, ``+$1,234.50``).
Reads only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from accounts.models import BrokerLogin, User
from copytrade.core.numbers import cents
from copytrade.core.numbers import price as price_text
from journal.models import Position
from journal.round_trips import round_trips_recent
from routing.engine.limits import RouteLevel
from routing.engine.symbols import SymbolError, root_of
from routing.engine.types import ContractSpec
from routing.engine.watch import plain
from routing.models import (
    CopyGroup,
    CopyOrder,
    ExpectedPosition,
    Follower,
    PositionClose,
    Quarantine,
    ReplayJob,
)
from routing.route_budget import FollowerBudget, RouteBudget, route_budget
from routing.selectors import (
    FEED_LENGTH,
    contract_point_values,
    copy_order_payload,
    engine_contract_specs,
    flatten_state,
    route_connections,
    session_pnl_by_account,
)

CLOSES_SHOWN = 5
# A login in these states cannot take orders (the engine blocks its accounts).
_LOGIN_DOWN = {BrokerLogin.ConnectionState.DOWN, BrokerLogin.ConnectionState.FAILED}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _tick(symbol: str, specs: Mapping[str, ContractSpec]) -> Decimal | None:
    try:
        spec = specs.get(root_of(symbol))
    except SymbolError:
        return None
    return spec.tick_size if spec is not None else None


def positions_by_account(
    account_ids: Iterable[int], specs: Mapping[str, ContractSpec]
) -> dict[int, list[dict[str, Any]]]:
    """Account id -> its open positions (journal), by contract:
    ``{"symbol", "qty" (signed contracts), "avg_price", "mark" (tick
    precision; ``mark`` None before any price), "pnl" (unrealized dollars at
    the mark), "tracked" (contracts copying manages), "untracked" (left to
    the user), "closing" (a Close is under way)}``."""
    ids = list(account_ids)
    held: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    expected = {
        (a, s): (q, u)
        for a, s, q, u in ExpectedPosition.objects.filter(account_id__in=ids).values_list(
            "account_id", "symbol", "qty", "untracked"
        )
    }
    closing = set(
        PositionClose.objects.filter(
            account_id__in=ids, status=PositionClose.Status.PENDING
        ).values_list("account_id", "symbol")
    )
    for p in Position.objects.filter(account_id__in=ids).exclude(qty=0).order_by("symbol"):
        tick = _tick(p.symbol, specs)
        tracked, untracked = expected.get((p.account_id, p.symbol), (0, 0))
        held[p.account_id].append(
            {
                "symbol": p.symbol,
                "qty": p.qty,
                "avg_price": price_text(p.avg_price, tick),
                "mark": price_text(p.mark_price, tick) if p.mark_price is not None else None,
                "pnl": cents(p.unrealized_pnl),
                "tracked": tracked,
                "untracked": untracked,
                "closing": (p.account_id, p.symbol) in closing,
            }
        )
    return held


def follower_positions_payload(
    group: CopyGroup, at: datetime, specs: Mapping[str, ContractSpec] | None = None
) -> list[dict[str, Any]]:
    """Each follower of ``group`` with its open positions
    (:func:`positions_by_account`) and PnL in dollars: realized, unrealized
    and this session's."""
    specs = specs if specs is not None else engine_contract_specs()
    followers = list(group.followers.select_related("account").order_by("pk"))
    account_ids = [f.account_id for f in followers]
    session = session_pnl_by_account(account_ids, at)
    totals: dict[int, tuple[Decimal, Decimal]] = {}
    for account_id, realized, unrealized, qty in Position.objects.filter(
        account_id__in=account_ids
    ).values_list("account_id", "realized_pnl", "unrealized_pnl", "qty"):
        r, u = totals.get(account_id, (Decimal(0), Decimal(0)))
        totals[account_id] = (r + realized, u + (unrealized if qty else Decimal(0)))
    positions = positions_by_account(account_ids, specs)
    rows = []
    for f in followers:
        realized, unrealized = totals.get(f.account_id, (Decimal(0), Decimal(0)))
        rows.append(
            {
                "follower": f.account.name,
                "follower_id": f.pk,
                "account_id": f.account_id,
                "ratio": str(plain(f.ratio)),
                "balance": str(f.account.balance),
                "positions": positions[f.account_id],
                "realized_pnl": cents(realized),
                "unrealized_pnl": cents(unrealized),
                "session_pnl": cents(session[f.account_id]),
            }
        )
    return rows


def replay_payload(job: ReplayJob | None) -> dict[str, Any] | None:
    """The group's latest replay as the header shows it, ``None`` without one:
    ``{"id", "label", "simulated", "status", "status_label", "fills", "next"
    (fills streamed this cycle), "cycle", "error"}``."""
    if job is None:
        return None
    return {
        "id": job.pk,
        "label": job.label,
        "simulated": job.simulated,
        "status": job.status,
        "status_label": job.get_status_display(),
        "fills": job.export_import.fill_count,
        "next": job.next_index,
        "cycle": job.cycle,
        "error": job.error,
    }


def header_payload(
    group: CopyGroup, budget: RouteBudget, connections: Mapping[str, str]
) -> dict[str, Any]:
    """The page header: ``{"enabled", "level", "level_label", "level_reason",
    "level_changed_at", "reviewed", "refusals" (why no entry is copied this
    session), "connections" (platform -> state), "replay"}``."""
    replay = (
        ReplayJob.objects.filter(group=group)
        .select_related("export_import")
        .order_by("-pk")
        .first()
    )
    return {
        "enabled": group.enabled,
        "level": int(budget.level),
        "level_label": budget.level_label,
        "level_reason": budget.level_reason,
        "level_changed_at": _iso(budget.level_changed_at),
        "reviewed": budget.reviewed,
        "refusals": list(budget.refusals),
        "connections": dict(connections),
        "replay": replay_payload(replay),
    }


def _badge(code: str, text: str, title: str) -> dict[str, str]:
    return {"code": code, "text": text, "title": title}


def follower_states(
    group: CopyGroup, budget: RouteBudget, connections: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each follower's state, in the followers' order: ``{"follower_id",
    "account_id", "enabled", "badges": [{"code", "text", "title"}],
    "eligibility": {"eligible", "text", "title"}}``. Badge codes: ``locked``
    (route level 4, with its reason), ``halted`` (with the reason),
    ``quarantined`` (one per symbol, with why), ``paused``, ``disabled``
    (the broker account), ``unreachable`` (its login or adapter is down)."""
    followers = list(group.followers.select_related("account__login").order_by("pk"))
    quarantined: dict[int, list[Quarantine]] = {}
    for q in Quarantine.objects.filter(follower__group=group, released_at__isnull=True).order_by(
        "symbol"
    ):
        quarantined.setdefault(q.follower_id, []).append(q)
    budgets: dict[int, FollowerBudget] = {b.follower_id: b for b in budget.followers}
    states = []
    for f in followers:
        badges = []
        if budget.level is RouteLevel.LOCKED:
            badges.append(_badge("locked", "Locked", f"route level 4: {budget.level_reason}"))
        row = budgets.get(f.pk)
        if row is not None and row.halt:
            badges.append(_badge("halted", "Halted", row.halt))
        for q in quarantined.get(f.pk, []):
            badges.append(_badge("quarantined", f"Quarantined {q.symbol}", q.reason))
        if not f.enabled:
            badges.append(_badge("paused", "Paused", "new entries are not copied; exits are"))
        if not f.account.enabled:
            badges.append(
                _badge("disabled", "Disabled", "the broker account is disabled: no order is sent")
            )
        unreachable = _unreachable(f, connections)
        if unreachable:
            badges.append(_badge("unreachable", "Broker unreachable", unreachable))
        states.append(
            {
                "follower_id": f.pk,
                "account_id": f.account_id,
                "enabled": f.enabled,
                "badges": badges,
                "eligibility": _eligibility(row),
            }
        )
    return states


def _unreachable(follower: Follower, connections: Mapping[str, str]) -> str:
    """Why orders to the follower's account cannot be sent now ("" when they can)."""
    login = follower.account.login
    if login is not None and not login.enabled:
        return f"login {login.label} is disabled"
    if login is not None and login.connection_state in _LOGIN_DOWN:
        detail = f": {login.connection_detail}" if login.connection_detail else ""
        return f"login {login.label} {login.connection_state}{detail}"
    if connections.get(follower.account.platform) == "disconnected":
        return f"the engine's {follower.account.platform} adapter is disconnected"
    return ""


def _eligibility(row: FollowerBudget | None) -> dict[str, Any]:
    if row is None:
        return {"eligible": False, "text": "Unknown", "title": "not in the route budget"}
    if row.eligible:
        return {"eligible": True, "text": "Eligible", "title": "receives entries this session"}
    if row.halt:
        return {"eligible": False, "text": "Halted", "title": row.halt}
    return {"eligible": False, "text": "Not eligible", "title": "; ".join(row.reasons)}


def position_closes_payload(group: CopyGroup) -> list[dict[str, Any]]:
    """The group's last position closes, newest first: ``{"id", "account_id",
    "follower", "symbol", "status", "detail", "requested_by", "requested_at",
    "finished_at"}`` (``detail`` empty while pending)."""
    return [
        {
            "id": c.pk,
            "account_id": c.account_id,
            "follower": c.account.name,
            "symbol": c.symbol,
            "status": c.status,
            "detail": c.detail,
            "requested_by": c.requested_by,
            "requested_at": c.created_at.isoformat(),
            "finished_at": _iso(c.finished_at),
        }
        for c in PositionClose.objects.filter(group=group)
        .select_related("account")
        .order_by("-pk")[:CLOSES_SHOWN]
    ]


def copied_trades_payload(
    group: CopyGroup, specs: Mapping[str, ContractSpec]
) -> list[dict[str, Any]]:
    """The last 25 copied round trips of each follower, newest first across
    followers (:func:`journal.round_trips.round_trips_recent`): ``{"account_id",
    "follower", "symbol", "side": "long" | "short", "qty" (largest position),
    "pnl" (dollars, before fees), "opened_at", "closed_at"}``."""
    names = dict(group.followers.values_list("account_id", "account__name"))
    trips = round_trips_recent(names, point_values=contract_point_values(specs))
    rows = [
        {
            "account_id": account_id,
            "follower": names[account_id],
            "symbol": trip.symbol,
            "side": "long" if trip.side.sign > 0 else "short",
            "qty": trip.qty,
            "pnl": cents(trip.pnl),
            "opened_at": _iso(trip.opened_at),
            "closed_at": trip.closed_at.isoformat(),
        }
        for account_id, account_trips in trips.items()
        for trip in account_trips
    ]
    rows.sort(key=lambda r: r["closed_at"], reverse=True)
    return rows


def group_snapshot(*, user: User, group: CopyGroup, at: datetime) -> dict[str, Any]:
    """Everything the group page shows live (see the module docstring):
    ``{"seq" (the user's feed sequence number: the page's resync point),
    "group", "header", "leader": {"account_id", "name", "positions"},
    "followers" (positions and PnL), "states" (badges, eligibility),
    "closes", "orders" (last 25 copy orders), "trades" (copied round trips),
    "flatten", "tick_sizes"}``."""
    seq = User.objects.filter(pk=user.pk).values_list("feed_seq", flat=True).get()
    specs = engine_contract_specs()
    budget = route_budget(group=group, at=at)
    connections = route_connections(group=group, at=at)
    orders = (
        CopyOrder.objects.filter(group=group)
        .select_related("leader_event", "account")
        .order_by("-id")[:FEED_LENGTH]
    )
    return {
        "seq": seq,
        "group": group.pk,
        "header": header_payload(group, budget, connections),
        "leader": {
            "account_id": group.leader_id,
            "name": group.leader_label,
            # A published pilot's account is not the subscriber's to watch.
            "positions": []
            if group.pilot_route
            else positions_by_account([group.leader_id], specs)[group.leader_id],
        },
        "followers": follower_positions_payload(group, at, specs),
        "states": follower_states(group, budget, connections),
        "closes": position_closes_payload(group),
        "orders": [copy_order_payload(o) for o in orders],
        "trades": copied_trades_payload(group, specs),
        "flatten": flatten_state(owner_id=group.owner_id, group=group),
        # Product root -> its tick size: the page writes the feed's fill
        # prices (copy order payloads, shared with the hot path) with them.
        "tick_sizes": {root: str(plain(spec.tick_size)) for root, spec in specs.items()},
    }
