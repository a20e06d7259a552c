"""A TradingView alert -> one leader fill on the group's leader account.

The alert goes through :func:`routing.services.leader_events.leader_event_ingest`
(the one door of every leader fill) without claiming its orders: they are
stored PENDING in the request's transaction and the engine worker that owns
the leader sends them on its next pass (``EngineWorker.send_pending``), so
the web process never waits on a broker.

Refusals raise :class:`AlertRefused` with the HTTP status and a message the
sender sees; every alert, accepted or not, is journaled on the group
(:func:`alert_journal`) without its secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import BrokerAccount
from journal.models import EventType, Position
from journal.services import journal_record
from routing.engine.symbols import SymbolError, root_of
from routing.engine.types import LeaderFill, Side
from routing.models import GroupWebhook, LeaderEvent
from routing.selectors import engine_contract_specs
from routing.services.follower_state import contract_marks
from routing.services.leader_events import leader_event_ingest
from routing.webhooks.symbols import contract_code

SOURCE = "tradingview"


class AlertRefused(Exception):
    """An alert not applied: ``status`` (HTTP) and the reason shown to the sender."""

    def __init__(self, status: int, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """What became of an accepted alert: ``status`` ``"accepted"``,
    ``"duplicate"`` (its ``alert_id`` was applied before) or ``"flat"`` (an
    exit with nothing open); ``orders`` copy orders decided (accepted only)."""

    status: str
    message: str
    event_id: str
    orders: int = 0


def alert_event_id(webhook: GroupWebhook, alert_id: str) -> str:
    """The leader event id of an alert: ``tv:<group id>:<alert_id>`` (the
    group keeps two groups of one leader from taking each other's ids)."""
    return f"tv:{webhook.group_id}:{alert_id}"


def alert_apply(*, webhook: GroupWebhook, alert: dict[str, Any], at: datetime) -> AlertOutcome:
    """Apply a validated ``alert`` (``symbol``, ``action`` buy/sell/exit,
    ``quantity`` contracts, ``order_type``, ``price`` points or ``None``,
    ``alert_id``) received at aware ``at`` as a leader fill of ``webhook``'s
    group's leader.

    A buy or sell is a fill of ``quantity`` at ``price``, else at the last
    mark of the contract on the leader's routes; an exit is the fill that
    takes the leader's position in the contract to flat. Raises
    ``AlertRefused`` (400) for a limit order, an unknown symbol or no known
    price; a repeated ``alert_id`` changes nothing.
    """
    group = webhook.group
    event_id = alert_event_id(webhook, alert["alert_id"])
    if alert["order_type"] != "market":
        raise AlertRefused(
            400, "only market orders are supported: send order_type 'market'", field="order_type"
        )
    with transaction.atomic():
        # The leader's row is locked first, so an exit reads the position
        # no other alert is about to move (leader_event_ingest locks it too).
        leader = BrokerAccount.objects.select_for_update().get(pk=group.leader_id)
        if LeaderEvent.objects.filter(account=leader, external_id=event_id).exists():
            return AlertOutcome(
                "duplicate", f"duplicate: alert {alert['alert_id']} was applied before", event_id
            )
        symbol = _symbol(alert["symbol"], at)
        side, qty = _side_and_qty(leader, symbol, alert)
        if qty == 0:
            return AlertOutcome(
                "flat", f"nothing to exit: the leader is flat in {symbol}", event_id
            )
        price = alert["price"] if alert["price"] is not None else _mark(group, leader, symbol)
        fill = LeaderFill(event_id, leader.external_id, symbol, side, qty, price, at)
        result = leader_event_ingest(account=leader, fill=fill, source=SOURCE)
    if not result.created:  # a racing delivery of the same alert got there first
        return AlertOutcome(
            "duplicate", f"duplicate: alert {alert['alert_id']} was applied before", event_id
        )
    return AlertOutcome(
        "accepted",
        f"leader {side.value} {qty} {symbol} @ {price}: {len(result.orders)} copy decisions",
        event_id,
        orders=len(result.orders),
    )


def _duplicate(alert: dict[str, Any], event_id: str) -> AlertOutcome:
    message = f"duplicate: alert {alert['alert_id']} was applied before"
    return AlertOutcome("duplicate", message, event_id)


def _symbol(ticker: str, at: datetime) -> str:
    try:
        symbol = contract_code(ticker, at.date())
        root = root_of(symbol)
    except SymbolError as exc:
        raise AlertRefused(400, str(exc), field="symbol") from None
    if not engine_contract_specs([root]):
        raise AlertRefused(
            400, f"unknown symbol {ticker!r}: no contract {root} is known", field="symbol"
        )
    return symbol


def _side_and_qty(leader: BrokerAccount, symbol: str, alert: dict[str, Any]) -> tuple[Side, int]:
    if alert["action"] != "exit":
        if alert["quantity"] is None:
            raise AlertRefused(400, "quantity is required for a buy or sell", field="quantity")
        return Side(alert["action"]), alert["quantity"]
    held = (
        Position.objects.filter(account=leader, symbol=symbol).values_list("qty", flat=True).first()
    ) or 0
    return (Side.SELL if held > 0 else Side.BUY), abs(held)


def _mark(group: Any, leader: BrokerAccount, symbol: str) -> Decimal:
    """The contract's last mark on the group's leader and followers, or a
    refusal: a fill is never priced by default."""
    accounts = [leader.pk, *group.followers.values_list("account_id", flat=True)]
    price = contract_marks({symbol}, account_ids=accounts).get(symbol)
    if price is None:
        raise AlertRefused(400, f"no price known for {symbol}: send price", field="price")
    return price


def alert_journal(
    *, webhook: GroupWebhook, alert: dict[str, Any], status: str, message: str, at: datetime
) -> None:
    """Journal one alert on its group: what it asked (never its secret),
    ``status`` (accepted, duplicate, flat, refused, forbidden) and ``message``."""
    group = webhook.group
    shown = {k: str(v) for k, v in alert.items() if k != "secret" and v is not None}
    journal_record(
        owner_id=group.owner_id,
        event_type=(
            EventType.LEADER_EVENT_RECEIVED
            if status == "accepted"
            else EventType.LEADER_EVENT_REJECTED
        ),
        actor_label=SOURCE,
        group_id=group.pk,
        account_id=group.leader_id,
        occurred_at=at,
        message=f"TradingView alert {status} on {group.name}: {message}",
        extra_data={"alert": shown, "status": status},
    )
