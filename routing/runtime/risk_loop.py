"""The engine worker's layer-2 pass: mark open paper positions at their
venue's prices (:mod:`routing.runtime.venues`) and positions on a real
platform at that platform's last traded price (its adapter's market data),
then halt, lock and find accounts to flatten
(:mod:`routing.services.risk_watch`).

Runs on the worker's loop every poll, so a position losing money halts its
account within a poll of the price that did it, whether or not the leader
trades. With several workers each one watches the routes of the leaders it
holds (``leader_ids``), so no account is halted or flattened by two of them.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from channels.db import database_sync_to_async
from django.conf import settings

from routing.models import Follower
from routing.runtime.adapters import AdapterRegistry
from routing.selectors import engine_contract_specs
from routing.services.risk_watch import (
    marks_moved_notify,
    positions_open,
    positions_revalue,
    risk_sessions_current,
    risk_watch,
)

logger = logging.getLogger(__name__)


def _watch(
    marks: dict[tuple[int, str], Decimal], at: datetime, leader_ids: Collection[int] | None
) -> dict[int, str]:
    # Sessions first: a mark this pass moves is today's PnL, not carried in.
    risk_sessions_current(at=at, leader_ids=leader_ids)
    moved = positions_revalue(marks, engine_contract_specs())
    due = risk_watch(at=at, leader_ids=leader_ids)
    marks_moved_notify(moved)
    return due


def _positions(leader_ids: Collection[int] | None) -> list[tuple[int, str, str, str]]:
    accounts = None
    if leader_ids is not None:
        accounts = set(
            Follower.objects.filter(group__leader_id__in=list(leader_ids)).values_list(
                "account_id", flat=True
            )
        )
    return positions_open(accounts)


async def watch_risk(
    registry: AdapterRegistry,
    *,
    at: datetime | None = None,
    leader_ids: Collection[int] | None = None,
) -> dict[int, str]:
    """One layer-2 pass at aware ``at`` (now by default) over the routes of
    ``leader_ids`` (every route when ``None``); returns the accounts due to
    be flattened (their flatten on breach is on): id -> the breach that
    halted them. Each paper position is marked at the last price of its
    account's venue (never another route's); a position on a real platform
    at that platform's last traded price, watched for every contract held
    there (a price not known yet leaves the last mark)."""
    paper = registry.paper
    held = await database_sync_to_async(_positions)(leader_ids)
    by_platform: dict[str, set[str]] = {}
    for _, platform, _, symbol in held:
        by_platform.setdefault(platform, set()).add(symbol)
    for adapter in registry.login_adapters():
        try:
            await adapter.watch_prices(sorted(by_platform.get(adapter.platform, ())))
        except Exception:
            # One platform's market data must not stop layer 2 for the
            # others: its positions keep their last marks meanwhile.
            logger.exception("%s market data watch failed", adapter.platform)
    # Each real platform's last price of each contract held there, read once.
    prices: dict[tuple[str, str], tuple[Decimal, datetime] | None] = {}
    for adapter in registry.login_adapters():
        for symbol in by_platform.get(adapter.platform, ()):
            prices[(adapter.platform, symbol)] = adapter.last_price(symbol)
    marks = {}
    for account_id, platform, external_id, symbol in held:
        if platform == paper.platform:
            mark = paper.last_mark(symbol, venue=paper.venue_of(external_id))
        else:
            last = prices.get((platform, symbol))
            mark = None if last is None else last[0]
        if mark is not None:
            marks[(account_id, symbol)] = mark
    now = at or datetime.now(UTC)
    registry.hold_entries(_unpriced_holds(registry, held, prices, now))
    return await database_sync_to_async(_watch)(marks, now, leader_ids)


def mark_stale_after() -> timedelta:
    """How long an open position on a real platform may go without a price
    from that platform before the account's entries wait
    (``MARK_STALE_SECONDS``, default 300 s: longer than a quiet minute of a
    liquid future, shorter than a loss limit takes to matter; the daily halt
    holds entries too, when the leader cannot trade anyway)."""
    return timedelta(seconds=float(getattr(settings, "MARK_STALE_SECONDS", 300)))


def _unpriced_holds(
    registry: AdapterRegistry,
    held: list[tuple[int, str, str, str]],
    prices: dict[tuple[str, str], tuple[Decimal, datetime] | None],
    now: datetime,
) -> dict[tuple[str, str], str]:
    """(platform, account) -> why its entries wait: an open position there
    has had no price from the platform for ``mark_stale_after()`` or longer,
    so its loss limits cannot be watched (fail closed; exits still go)."""
    limit = mark_stale_after()
    holds: dict[tuple[str, str], str] = {}
    seen = set()
    for _, platform, external_id, symbol in held:
        if (platform, symbol) not in prices:
            continue  # paper (priced by its venue) or no adapter (orders refused anyway)
        key = (platform, external_id, symbol)
        seen.add(key)
        last = prices[(platform, symbol)]
        if last is not None and now - last[1] <= limit:
            registry.unpriced_since.pop(key, None)
            continue
        since = last[1] if last is not None else registry.unpriced_since.setdefault(key, now)
        if now - since >= limit:
            holds[(platform, external_id)] = (
                f"no {platform} price for {symbol} since {since:%Y-%m-%d %H:%M:%S} UTC, so "
                "the account's loss limits cannot be watched; entries wait for prices"
            )
    for key in [k for k in registry.unpriced_since if k not in seen]:
        del registry.unpriced_since[key]
    return holds
