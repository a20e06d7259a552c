"""Writes for users and broker accounts."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import transaction

from accounts.models import BrokerAccount, User
from copytrade.core.errors import ApplicationError


@transaction.atomic
def broker_account_create(
    *,
    owner: User,
    name: str,
    balance: Decimal,
    kind: str = BrokerAccount.Kind.PERSONAL,
    platform: str = BrokerAccount.Platform.PAPER,
    external_id: str | None = None,
    firm: str = "",
) -> BrokerAccount:
    """Create a broker account with ``balance`` dollars as starting and current
    balance. Paper accounts get a generated external id when none is given.

    Raises ``ApplicationError`` for a negative balance or an unknown kind.
    """
    if balance < 0:
        raise ApplicationError(f"balance must be ≥ 0, got {balance}", field="balance")
    if kind not in BrokerAccount.Kind.values:
        raise ApplicationError(f"unknown account kind {kind!r}", field="kind")
    if external_id is None:
        if platform != BrokerAccount.Platform.PAPER:
            raise ApplicationError("a broker account needs its external id", field="external_id")
        external_id = f"paper-{uuid.uuid4().hex[:12]}"
    return BrokerAccount.objects.create(
        owner=owner,
        name=name,
        platform=platform,
        external_id=external_id,
        kind=kind,
        firm=firm,
        starting_balance=balance,
        balance=balance,
    )
