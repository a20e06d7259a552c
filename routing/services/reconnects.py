"""What a broker login's reconnect did, in each account owner's journal."""

from __future__ import annotations

from collections.abc import Sequence

from accounts.models import BrokerAccount
from journal.models import EventType
from journal.services import journal_record
from routing.models import CopyOrder


def reconnect_journal(
    *,
    platform: str,
    accounts: Sequence[str],
    down_seconds: float,
    cancelled: Sequence[int],
) -> None:
    """Journal, for each of ``accounts`` (external ids on ``platform``) that
    exists here, that its login came back after ``down_seconds`` and which of
    the copy orders ``cancelled`` (ids) were its working orders cancelled
    before anything else was sent (:mod:`routing.runtime.logins`)."""
    cancelled_by_account: dict[int, list[str]] = {}
    for account_id, coid in CopyOrder.objects.filter(pk__in=list(cancelled)).values_list(
        "account_id", "client_order_id"
    ):
        cancelled_by_account.setdefault(account_id, []).append(coid)
    for account in BrokerAccount.objects.filter(platform=platform, external_id__in=list(accounts)):
        coids = sorted(cancelled_by_account.get(account.pk, []))
        done = (
            f"{len(coids)} copied working order(s) cancelled on reconnect: {', '.join(coids)}"
            if coids
            else "no copied working order cancelled"
        )
        journal_record(
            owner_id=account.owner_id,
            event_type=EventType.BROKER_RECONNECTED,
            account_id=account.pk,
            actor_label="engine",
            message=(
                f"{account.name}: {platform} connection back after {down_seconds:.0f} s down; "
                f"{done}"
            ),
            extra_data={"down_seconds": round(down_seconds, 3), "cancelled": coids},
        )
