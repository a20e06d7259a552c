"""Which broker adapter serves which platform, built once per worker."""

from __future__ import annotations

from django.conf import settings

from accounts.models import BrokerAccount
from journal.models import Position
from routing.brokers.base import BrokerAdapter
from routing.brokers.errors import BrokerFatal
from routing.brokers.logins import LoginAdapter
from routing.brokers.paper import PaperBroker
from routing.runtime.venues import VenueKeeper, route_venue
from routing.selectors import engine_contract_specs


class AdapterRegistry:
    """Platform name -> connected adapter. Only the paper broker exists so
    far; any other platform fails closed with :class:`BrokerFatal`.

    ``venues`` keeps the paper exchange's prices apart per leader's routes
    (:mod:`routing.runtime.venues`); without it (tests of one route) every
    paper account shares one price per contract.
    """

    def __init__(
        self, adapters: dict[str, BrokerAdapter], *, venues: VenueKeeper | None = None
    ) -> None:
        self._adapters = adapters
        self.venues = venues

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
