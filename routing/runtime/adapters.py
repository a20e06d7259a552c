"""Which broker adapter serves which platform, built once per worker."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime

from django.conf import settings

from accounts.models import BrokerAccount
from journal.models import Position
from routing.brokers.base import BrokerAdapter
from routing.brokers.budget import RequestBudget
from routing.brokers.budget_book import BudgetBook
from routing.brokers.errors import BrokerFatal
from routing.brokers.logins import LoginAdapter
from routing.brokers.paper import PaperBroker
from routing.runtime.venues import VenueKeeper, route_venue
from routing.selectors import engine_contract_specs


class AdapterRegistry:
    """Platform name -> connected adapter: the paper broker, and a login
    adapter per real platform with stored logins (added by the worker,
    :mod:`routing.runtime.logins`); a platform with none fails closed with
    :class:`BrokerFatal`.

    ``venues`` keeps the paper exchange's prices apart per leader's routes
    (:mod:`routing.runtime.venues`); without it (tests of one route) every
    paper account shares one price per contract.
    """

    def __init__(
        self, adapters: dict[str, BrokerAdapter], *, venues: VenueKeeper | None = None
    ) -> None:
        self._adapters = adapters
        self.venues = venues
        # (platform, account external id) -> why its orders are held: its
        # login is down, or back but its reconnect not yet handled.
        self._held: dict[tuple[str, str], str] = {}
        # (platform, account external id) -> why its entries wait (layer 2
        # cannot price its open positions: routing.runtime.risk_loop).
        self._entries_held: dict[tuple[str, str], str] = {}
        # (platform, account, contract) -> since when an open position there
        # has had no price from its platform (routing.runtime.risk_loop).
        self.unpriced_since: dict[tuple[str, str, str], datetime] = {}
        # One request budget per login, shared by its accounts (issue 12).
        self.budgets = BudgetBook()

    def add(self, adapter: BrokerAdapter) -> None:
        """Serve ``adapter.platform`` with ``adapter`` (already connected or
        connecting itself); raises ``ValueError`` when one serves it already."""
        if adapter.platform in self._adapters:
            raise ValueError(f"an adapter already serves platform {adapter.platform!r}")
        self._adapters[adapter.platform] = adapter

    def login_adapter(self, platform: str) -> LoginAdapter | None:
        """The login adapter serving ``platform``, if any."""
        adapter = self._adapters.get(platform)
        return adapter if isinstance(adapter, LoginAdapter) else None

    def login_adapters(self) -> list[LoginAdapter]:
        """Every login adapter here (real platforms), by platform."""
        return [a for _, a in sorted(self._adapters.items()) if isinstance(a, LoginAdapter)]

    def login_platforms(self) -> list[str]:
        return [a.platform for a in self.login_adapters()]

    def budgets_of(self, platform: str) -> Callable[[int], RequestBudget]:
        """``login id -> its request budget`` for ``platform``'s adapter: the
        same budget for every account of a login, for the worker's life
        (:class:`routing.brokers.budget_book.BudgetBook`)."""
        return functools.partial(self._budget, platform=platform)

    def _budget(self, login_id: int, *, platform: str) -> RequestBudget:
        return self.budgets.budget(login_id, platform)

    def hold(self, platform: str, account: str, reason: str) -> None:
        """Block orders to ``account`` on ``platform`` with ``reason`` until released."""
        self._held[(platform, account)] = reason

    def release(self, platform: str, account: str) -> None:
        self._held.pop((platform, account), None)

    def entries_held(self, platform: str, account: str) -> str | None:
        """Why new entries to ``account`` on ``platform`` must wait (exits
        still go), or ``None``. Safe from the database thread."""
        return self._entries_held.get((platform, account))

    def hold_entries(self, holds: dict[tuple[str, str], str]) -> None:
        """Replace the entry holds: (platform, account) -> reason."""
        self._entries_held = dict(holds)

    def route_venue(self, leader_id: int) -> str:
        """The paper venue that leader ``leader_id``'s fills print on."""
        return "" if self.venues is None else route_venue(leader_id)

    def venues_refresh(self) -> None:
        """Bring the paper venue assignments up to date with the routes (a
        no-op without venues). Synchronous ORM reads: call from a thread."""
        if self.venues is not None:
            self.venues.refresh()

    def for_platform(self, platform: str) -> BrokerAdapter:
        """Raises ``BrokerFatal`` naming the platform when no adapter serves it."""
        try:
            return self._adapters[platform]
        except KeyError:
            raise BrokerFatal(
                f"no broker adapter for platform {platform!r} in this worker"
            ) from None

    def unreachable(self, platform: str, account: str) -> str | None:
        """Why orders to ``account`` (external id) on ``platform`` cannot be
        sent now, or ``None`` when they can: a real platform's login holding
        the account is not connected. The paper broker is always reachable;
        a platform with no adapter here is left to the send, which rejects
        it (``for_platform``). Reads adapter state only: safe from the
        database thread."""
        held = self._held.get((platform, account))
        if held is not None:
            return held
        adapter = self._adapters.get(platform)
        if not isinstance(adapter, LoginAdapter):
            return None
        return adapter.account_unreachable(account)

    @property
    def paper(self) -> PaperBroker:
        adapter = self._adapters["paper"]
        assert isinstance(adapter, PaperBroker)
        return adapter

    def adapters(self) -> list[BrokerAdapter]:
        """Every adapter in this registry."""
        return list(self._adapters.values())

    async def connect_all(self) -> None:
        for adapter in self._adapters.values():
            await adapter.connect()

    async def disconnect_all(self) -> None:
        for adapter in self._adapters.values():
            await adapter.disconnect()


def build_registry() -> AdapterRegistry:
    """Adapters for this process, from the contract spec table and settings.

    The paper broker's positions are restored from the journal, each
    account on its route's venue with its last mark there. Synchronous ORM
    read: call from a thread (``sync_to_async``) in async code.
    """
    specs = engine_contract_specs()
    paper = PaperBroker(specs, slippage_ticks=settings.PAPER_SLIPPAGE_TICKS)
    venues = VenueKeeper(paper)
    venues.refresh()
    # The paper exchange restarts with the process: resume its book from the
    # journal so reconciliation compares against what was really filled.
    rows = Position.objects.filter(account__platform=BrokerAccount.Platform.PAPER).select_related(
        "account"
    )
    for row in rows.order_by("updated_at", "pk"):
        external_id = row.account.external_id
        paper.restore_position(external_id, row.symbol, row.to_engine())
        if row.mark_price is not None and row.qty:
            paper.mark(
                row.symbol, row.mark_price, row.updated_at, venue=paper.venue_of(external_id)
            )
    return AdapterRegistry({"paper": paper}, venues=venues)
