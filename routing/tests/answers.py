"""Broker answers for tests: every order of an ingest filled at one price."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from routing.brokers.base import BrokerFill, OrderRequest, OrderResult, OrderStatus
from routing.engine.types import Side


def filled_answers(
    requests: Mapping[int, tuple[str, OrderRequest]], price: Decimal, at: datetime
) -> list[tuple[int, OrderResult]]:
    """``(copy order id, answer)`` for each of an ingest's ``requests``
    (:attr:`routing.services.leader_events.IngestResult.requests`): the
    MNQH5 buy filled whole at ``price``, at ``at``, in one fill ``x-<id>``,
    broker order id ``b-<id>``."""
    return [
        (
            order_id,
            OrderResult(
                request.client_order_id,
                f"b-{order_id}",
                OrderStatus.FILLED,
                request.qty,
                price,
                (
                    BrokerFill(
                        f"x-{order_id}",
                        request.client_order_id,
                        request.account,
                        "MNQH5",
                        Side.BUY,
                        request.qty,
                        price,
                        at,
                    ),
                ),
            ),
        )
        for order_id, (_, request) in requests.items()
    ]
