"""Round-trip trades: imported from broker exports (journal only) or copied
(rebuilt from the journal's fills, :mod:`journal.copied_trades`), listed,
filtered by account, symbol, import and closing date, in pages with their
totals, and exported as CSV with the same filters."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import User
from journal.copied_trades import SOURCE as COPIED
from journal.copied_trades import CopiedTrade, copied_trades_for_user
from journal.csv_export import csv_download, csv_lines, stamped, utc_days
from journal.models import Trade
from journal.selectors import imports_for_user

PAGE_SIZE = 100
CSV_COLUMNS = (
    "closed_at_utc",
    "opened_at_utc",
    "account",
    "symbol",
    "side",
    "qty",
    "entry_price",
    "exit_price",
    "pnl",
    "fees",
    "source",
    "trade_id",
)


class TradeFilterForm(forms.Form):
    """Filters (GET): imported or copied trades, the account name (as in the
    export, or the broker account's), a contract code (or its beginning,
    e.g. ``MNQ``), one of the user's imports (imported trades only), and a
    range of closing dates (UTC, both ends included)."""

    source = forms.ChoiceField(
        required=False,
        label="Trades",
        choices=[("", "Imported"), (COPIED, "Copied")],
    )

    account = forms.CharField(required=False, max_length=100, label="Account")
    symbol = forms.CharField(required=False, max_length=20, label="Symbol")
    export_import = forms.IntegerField(
        required=False, min_value=1, label="Import", widget=forms.Select
    )
    since = forms.DateField(
        required=False, label="Closed from", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="to", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["export_import"].widget.choices = (
            [("", "All imports")]
            + [  # type: ignore[attr-defined]
                (i.pk, i.file_name) for i in imports_for_user(user=user)[:200]
            ]
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            self.add_error("until", "The end date is before the start date.")
        return cleaned


def trades_for_user(user: User, filters: dict[str, Any]) -> QuerySet[Trade]:
    """``user``'s imported trades (never another user's) matching
    ``filters``, most recently closed first."""
    trades = Trade.objects.filter(owner=user)
    if filters.get("account"):
        trades = trades.filter(account_name=filters["account"])
    if filters.get("symbol"):
        trades = trades.filter(symbol__istartswith=filters["symbol"].strip())
    if filters.get("export_import") is not None:
        trades = trades.filter(export_import_id=filters["export_import"])
    start, end = utc_days(filters.get("since"), filters.get("until"))
    if start is not None:
        trades = trades.filter(closed_at__gte=start)
    if end is not None:
        trades = trades.filter(closed_at__lt=end)
    return trades.order_by("-closed_at", "-id")


def _filters(request: HttpRequest, user: User) -> tuple[TradeFilterForm, dict[str, Any]]:
    params = request.GET.copy()
    params.pop("page", None)
    form = TradeFilterForm(params or None, user=user)
    if form.is_bound and form.is_valid():
        return form, {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
    return form, {}


@login_required
def trade_list(request: HttpRequest) -> HttpResponse:
    """GET the user's imported trades (or, with ``source=copied``, the round
    trips of their accounts rebuilt from the journal's fills), ``PAGE_SIZE``
    a page, with the filtered set's count, net PnL, fees and winners;
    invalid filters show the form's errors and nothing is filtered."""
    user: User = request.user  # type: ignore[assignment]
    form, filters = _filters(request, user)
    truncated = False
    if filters.get("source") == COPIED:
        copied = copied_trades_for_user(user, filters)
        rows: list[CopiedTrade] | QuerySet[Trade] = copied.trades
        truncated = copied.truncated
        totals = {
            "count": len(copied.trades),
            "pnl": sum((t.pnl for t in copied.trades), Decimal(0)),
            "fees": sum((t.fees for t in copied.trades), Decimal(0)),
        }
        winners = sum(1 for t in copied.trades if t.pnl > 0)
    else:
        rows = trades_for_user(user, filters)
        totals = rows.aggregate(count=Count("id"), pnl=Sum("pnl"), fees=Sum("fees"))
        winners = rows.filter(pnl__gt=0).count()
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "journal/trades.html",
        {
            "trades": page.object_list,
            "page": page,
            "query": query.urlencode(),
            "filter_form": form,
            "filtered": bool(filters),
            "copied": filters.get("source") == COPIED,
            "truncated": truncated,
            "count": totals["count"],
            "net_pnl": totals["pnl"] or Decimal(0),
            "fees": totals["fees"] or Decimal(0),
            "winners": winners,
        },
    )


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()


def _csv_rows(trades: QuerySet[Trade] | list[CopiedTrade]) -> Iterator[tuple[Any, ...]]:
    rows = trades if isinstance(trades, list) else trades.iterator(chunk_size=2000)
    for t in rows:
        yield (
            _iso(t.closed_at),
            _iso(t.opened_at),
            t.account_name,
            t.symbol,
            t.side,
            t.qty,
            t.entry_price,
            t.exit_price,
            t.pnl,
            t.fees,
            t.source_format,
            t.external_id,
        )


@login_required
def trade_export(request: HttpRequest) -> HttpResponse:
    """GET the filtered trades as CSV (``CSV_COLUMNS``), streamed; invalid
    filters: 400 with the errors."""
    user: User = request.user  # type: ignore[assignment]
    form, filters = _filters(request, user)
    if form.is_bound and not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    if filters.get("source") == COPIED:
        trades: QuerySet[Trade] | list[CopiedTrade] = copied_trades_for_user(user, filters).trades
    else:
        trades = trades_for_user(user, filters)
    return csv_download(csv_lines(CSV_COLUMNS, _csv_rows(trades)), stamped("trades"))
