"""One account's ledger: every decision, copy order, fill and journal line
for that account over a range of dates, in time order, as CSV (issue 13:
"a per-follower ledger (every decision, order, fill and PnL for one account
over a date range) as CSV")."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse

from accounts.models import BrokerAccount, User
from journal.csv_export import csv_download, csv_lines, utc_days
from journal.models import Fill, JournalEntry
from routing.models import CopyOrder

LEDGER_COLUMNS = (
    "time_utc",
    "kind",
    "symbol",
    "side",
    "qty",
    "price",
    "status",
    "realized_pnl",
    "reference",
    "text",
)
# At most this many days in one ledger: a year of one account's trading.
MAX_DAYS = 366


class LedgerForm(forms.Form):
    """The account (one of the user's: another user's is 404) and the dates
    (UTC, both ends included, at most ``MAX_DAYS``)."""

    account = forms.IntegerField(min_value=1)
    since = forms.DateField()
    until = forms.DateField()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until:
            if since > until:
                self.add_error("until", "The end date is before the start date.")
            elif (until - since).days + 1 > MAX_DAYS:
                self.add_error("until", f"At most {MAX_DAYS} days in one ledger.")
        return cleaned


def _orders(account: BrokerAccount, start: datetime, end: datetime) -> Iterator[tuple]:
    # An order's time is its leader event's (when it was decided, the clock
    # the fills and journal lines use); a sync order has none: when it was made.
    rows = (
        CopyOrder.objects.filter(account=account)
        .annotate(at=Coalesce("leader_event__occurred_at", "created_at"))
        .filter(at__gte=start, at__lt=end)
        .order_by("at", "pk")
    )
    for o in rows.iterator(chunk_size=2000):
        price = o.avg_fill_price if o.avg_fill_price is not None else o.limit_price
        yield (o.at, 0, o.pk, "order", o.symbol, o.side, o.qty, price, o.status, "",
               o.client_order_id, o.reason)  # fmt: skip


def _fills(account: BrokerAccount, start: datetime, end: datetime) -> Iterator[tuple]:
    rows = Fill.objects.filter(account=account, filled_at__gte=start, filled_at__lt=end).order_by(
        "filled_at", "pk"
    )
    for f in rows.iterator(chunk_size=2000):
        yield (f.filled_at, 1, f.pk, "fill", f.symbol, f.side, f.qty, f.price, "",
               f.realized_pnl, f.broker_fill_id, "")  # fmt: skip


def _journal(account: BrokerAccount, start: datetime, end: datetime) -> Iterator[tuple]:
    rows = JournalEntry.objects.filter(
        owner_id=account.owner_id,
        account_id=account.pk,
        occurred_at__gte=start,
        occurred_at__lt=end,
    ).order_by("occurred_at", "pk")
    for e in rows.iterator(chunk_size=2000):
        yield (e.occurred_at, 2, e.pk, e.event_type, "", "", "", "", "", "", e.actor_label,
               e.message)  # fmt: skip


def ledger_rows(account: BrokerAccount, start: datetime, end: datetime) -> Iterator[str]:
    """CSV lines (header first) of ``account``'s orders, fills and journal
    lines in ``[start, end)`` (aware UTC), merged in time order (orders,
    then fills, then journal lines at the same instant)."""
    streams: Iterable[Iterator[tuple]] = (
        _orders(account, start, end),
        _fills(account, start, end),
        _journal(account, start, end),
    )
    merged = heapq.merge(*streams, key=lambda r: (r[0], r[1], r[2]))
    yield from csv_lines(
        LEDGER_COLUMNS,
        ((when.astimezone(UTC).isoformat(), *cells) for when, _, _, *cells in merged),
    )


@login_required
def ledger_export(request: HttpRequest) -> HttpResponse:
    """GET ``account``, ``since``, ``until``: the account's ledger as CSV
    (``LEDGER_COLUMNS``), streamed. Bad input: 400 with the errors; an
    account that is not the user's: 404."""
    user: User = request.user  # type: ignore[assignment]
    form = LedgerForm(request.GET)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    account = BrokerAccount.objects.filter(owner=user, pk=form.cleaned_data["account"]).first()
    if account is None:
        raise Http404("No such account.")
    start, end = utc_days(form.cleaned_data["since"], form.cleaned_data["until"])
    assert start is not None  # both dates are required
    assert end is not None
    name = f"ledger-{account.pk}-{form.cleaned_data['since']}-{form.cleaned_data['until']}.csv"
    return csv_download(ledger_rows(account, start, end), name)
