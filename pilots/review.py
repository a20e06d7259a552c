"""Staff review of pilots (issue 11, "Admin review desk").

A pilot waits for review when published, and again whenever its record is
newly flagged (:func:`pilots.records.pilot_record_refresh`). Staff decide in
the admin: approve (the badge needs it), reject (``subscription_start``
refuses rejected pilots; existing subscriptions are left to their owners),
or ask the pilot for more information. Every decision carries a written
reason and is journaled in the pilot's own journal with the staff member's
name and id, so the pilot sees who decided and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import F, Q, QuerySet

from accounts.models import User
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record
from pilots.models import Pilot

# The decisions staff can take; PENDING is where a pilot waits, not a decision.
DECISIONS = (Pilot.Review.APPROVED, Pilot.Review.REJECTED, Pilot.Review.INFO_REQUESTED)
_VERBS = {
    Pilot.Review.APPROVED: "approved",
    Pilot.Review.REJECTED: "rejected",
    Pilot.Review.INFO_REQUESTED: "asked for more information",
}
# The permission the admin's review actions need besides is_staff.
REVIEW_PERMISSION = "pilots.change_pilot"


def pilots_to_review() -> QuerySet[Pilot]:
    """The review queue: pilots waiting for review or for information they
    were asked for, and flagged records never reviewed; flagged first, then
    oldest publication first. Reads only."""
    return (
        Pilot.objects.filter(
            Q(review__in=[Pilot.Review.PENDING, Pilot.Review.INFO_REQUESTED])
            | Q(record__flagged=True, reviewed_at__isnull=True)
        )
        .select_related("owner", "record")
        # A pilot without a record yet sorts after the flagged ones.
        .order_by(F("record__flagged").desc(nulls_last=True), "published_at", "pk")
    )


def reviewer_can_review(user: Any) -> bool:
    """Whether ``user`` may decide reviews: an active staff member holding
    the pilots' change permission (a superuser holds every permission)."""
    return bool(
        getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
        and user.has_perm(REVIEW_PERMISSION)
    )


@transaction.atomic
def pilot_review(*, pilot: Pilot, decision: str, reason: str, actor: User, at: datetime) -> Pilot:
    """Record staff member ``actor``'s ``decision`` on ``pilot`` at aware ``at``.

    ``decision`` is one of :data:`DECISIONS` (``"approved"``, ``"rejected"``,
    ``"info_requested"``); ``reason`` the written why, shown to the pilot as
    the review note. Sets ``review``, ``reviewed_at`` and ``review_note``
    and journals :attr:`EventType.PILOT_REVIEWED` in the pilot's journal
    with the staff member's username and id, the reason, the state before
    and after, and the record's flags at the time. Returns the pilot.

    Raises ``ApplicationError`` when ``actor`` is not active staff with
    the pilots' change permission, the decision is unknown, or the reason
    is blank.
    """
    if not reviewer_can_review(actor):
        raise ApplicationError("only staff with the pilots' change permission review pilots")
    if decision not in DECISIONS:
        raise ApplicationError(
            f"unknown decision {decision!r}: approve, reject or request information",
            field="decision",
        )
    note = reason.strip()
    if not note:
        raise ApplicationError("a review needs a written reason", field="reason")
    # Locked so a record refresh flagging the pilot at the same moment
    # either comes before this decision or sees it (pilot_record_refresh
    # locks the same row).
    pilot = Pilot.objects.select_for_update().get(pk=pilot.pk)
    before = {
        "review": pilot.review,
        "reviewed_at": pilot.reviewed_at.isoformat() if pilot.reviewed_at else None,
        "review_note": pilot.review_note,
    }
    pilot.review = Pilot.Review(decision)
    pilot.reviewed_at = at
    pilot.review_note = note
    pilot.save(update_fields=["review", "reviewed_at", "review_note", "updated_at"])
    record = getattr(pilot, "record", None)
    journal_record(
        owner_id=pilot.owner_id,
        event_type=EventType.PILOT_REVIEWED,
        account_id=pilot.account_id,
        actor_user_id=actor.pk,
        actor_label=actor.username,
        occurred_at=at,
        message=f"Pilot {pilot.display_name} {_VERBS[pilot.review]} by staff "
        f"{actor.username}: {note}",
        before=before,
        after={"review": pilot.review, "reviewed_at": at.isoformat(), "review_note": note},
        extra_data={
            "pilot": pilot.pk,
            "decision": pilot.review,
            "reason": note,
            "staff": {"id": actor.pk, "username": actor.username},
            "flags": list(record.data.get("flags", [])) if record is not None else [],
        },
    )
    return pilot


@dataclass(frozen=True, slots=True)
class EquityChart:
    """An equity curve drawn in a ``width`` x ``height`` SVG box: ``points``
    for a polyline, ``zero_y`` the height of the $0 line, ``low``/``high``
    the dollar range shown, ``first``/``last`` the days at either end."""

    width: int
    height: int
    points: str
    zero_y: float
    low: Decimal
    high: Decimal
    first: str
    last: str


def equity_chart(
    data: dict[str, Any], *, width: int = 600, height: int = 160
) -> EquityChart | None:
    """The cumulative daily PnL of a record's report ``data`` (every round
    trip, :func:`pilots.report.stats_data` ``daily_pnl``) as an
    :class:`EquityChart` starting from $0, or ``None`` without a trading
    day. Drawn on the server so the admin needs no script (a Content
    Security Policy is coming)."""
    days = data.get("statistics", {}).get("daily_pnl") or []
    if not days:
        return None
    equity = [Decimal(0)]
    for day in days:
        equity.append(equity[-1] + Decimal(day["pnl"]))
    low, high = min(equity), max(equity)
    span = (high - low) or Decimal(1)
    pad = 8

    def y(value: Decimal) -> float:
        return round(pad + float((high - value) / span) * (height - 2 * pad), 1)

    step = (width - 2 * pad) / (len(equity) - 1)
    points = " ".join(
        f"{round(pad + index * step, 1)},{y(value)}" for index, value in enumerate(equity)
    )
    return EquityChart(
        width=width,
        height=height,
        points=points,
        zero_y=y(Decimal(0)),
        low=low,
        high=high,
        first=days[0]["day"],
        last=days[-1]["day"],
    )


# Statistics shown on the review page, in order: (key in stats_data, label).
_STATISTICS = (
    ("round_trips", "Round trips"),
    ("net_pnl", "Net PnL ($)"),
    ("return_pct", "Return on nominal (%)"),
    ("max_drawdown", "Max drawdown ($)"),
    ("max_drawdown_pct", "Max drawdown (% of nominal)"),
    ("win_rate", "Win rate"),
    ("win_rate_wilson_95", "Win rate, 95 % Wilson interval"),
    ("average_win", "Average win ($)"),
    ("average_loss", "Average loss ($)"),
    ("profit_factor", "Profit factor"),
    ("trading_days", "Trading days"),
    ("calendar_days", "Calendar days"),
    ("sharpe_daily", "Sharpe (daily)"),
    ("psr_0", "PSR(0)"),
)

_RATES = {"win_rate", "win_rate_wilson_95"}


def review_evidence(pilot: Pilot) -> dict[str, Any]:
    """What staff weigh on ``pilot``'s review page, from its stored record:
    ``flags`` (why it is flagged), ``failed`` rows (row, symbol, check,
    execution, reason), ``anomalies`` (code, status, detail, flagged),
    ``statistics`` (label, every round trip, verified ones only),
    ``counts`` of verification results, listing ``reasons``, ``listed``,
    ``chart`` (:func:`equity_chart`) and ``record`` (``None`` before the
    first computation). Reads only."""
    record = getattr(pilot, "record", None)
    if record is None:
        return {"record": None}
    data = record.data
    everything = data.get("statistics", {})
    verified = data.get("listing", {}).get("verified_statistics", {})
    return {
        "record": record,
        "flags": data.get("flags", []),
        "failed": [
            {"row": row["row"], "symbol": row["symbol"], **failure}
            for row in data.get("verification", {}).get("rows", [])
            if row["status"] == "failed"
            for failure in row["failures"]
        ],
        "anomalies": [
            {**anomaly, "flagged": anomaly["status"] == "flagged"}
            for anomaly in data.get("anomalies", [])
        ],
        "statistics": [
            (
                label,
                _shown(everything.get(key), percent=key in _RATES),
                _shown(verified.get(key), percent=key in _RATES),
            )
            for key, label in _STATISTICS
        ],
        "counts": data.get("verification", {}).get("counts", {}),
        "listed": record.listed,
        "reasons": data.get("listing", {}).get("reasons", []),
        "chart": equity_chart(data),
    }


def _shown(value: Any, *, percent: bool = False) -> str:
    """A statistic for the page: money and percents (Decimal strings) to
    cents, ratios to three places, win rates as percents."""
    if value is None:
        return "n/a"
    if isinstance(value, list):
        return " to ".join(_shown(v, percent=percent) for v in value)
    if isinstance(value, float):
        return f"{value:.1%}" if percent else f"{value:.3f}"
    if isinstance(value, str):
        try:
            return f"{Decimal(value):,.2f}"
        except InvalidOperation:
            return value
    return str(value)
