"""Pilots, plans and subscriptions (issue 11).

A *pilot* is a user who publishes one of their leader accounts' records; a
*subscription* is another user following that pilot under their *plan*:
first a watch period, then mirroring into one of their personal accounts
through a copy group led by the pilot's account (the same engine and risk
checks as a group between one user's own accounts).
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from copytrade.core.models import BaseModel, money_field


class Plan(BaseModel):
    """How many pilots a user may follow at once, and for how long a plan
    runs once picked (monthly, yearly, or for good). Payment is out of
    scope (issue 11): staff assign a plan in the admin, or the user picks
    one on the plan page, at no charge."""

    class Term(models.TextChoices):
        MONTHLY = "monthly"
        YEARLY = "yearly"
        LIFETIME = "lifetime"

    name = models.CharField(max_length=60, unique=True)
    term = models.CharField(max_length=10, choices=Term.choices)
    max_pilots = models.PositiveSmallIntegerField(
        help_text="Pilots followed at once (1 for monthly and yearly plans)."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(term__in=["monthly", "yearly", "lifetime"]), name="plan_term_valid"
            ),
            # Issue 11: monthly and yearly follow one pilot at a time.
            models.CheckConstraint(
                condition=Q(term="lifetime", max_pilots__gte=1) | Q(max_pilots=1),
                name="plan_max_pilots_by_term",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class UserPlan(BaseModel):
    """The plan a user holds: from ``started_at`` until ``ends_at`` (none
    for a lifetime plan)."""

    user = models.OneToOneField("accounts.User", on_delete=models.CASCADE, related_name="plan")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="holders")
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.user_id}: {self.plan_id}"


class Pilot(BaseModel):
    """A leader account's record, published under a display name.

    Only fills after ``published_at`` count toward rank (pre-registered);
    history imported before is shown labelled as imported and never ranks.
    ``nominal_balance`` is the account size in dollars the pilot declares:
    returns and drawdowns are measured against it.
    """

    class Review(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        INFO_REQUESTED = "info_requested", "More information requested"

    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="pilots")
    account = models.OneToOneField(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="pilot"
    )
    display_name = models.CharField(max_length=60, unique=True)
    markets = models.JSONField(default=list, help_text='Product roots traded, e.g. ["NQ", "MNQ"].')
    nominal_balance = money_field()
    published_at = models.DateTimeField()
    review = models.CharField(max_length=20, choices=Review.choices, default=Review.PENDING)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(nominal_balance__gt=0), name="pilot_nominal_balance_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name


class Subscription(BaseModel):
    """A user following a pilot: watching (mirroring simulated) until
    ``watch_ends_at``, then mirroring into the subscriber's personal account
    through ``group`` (a copy group the subscriber owns, led by the pilot's
    account), until ended."""

    class Status(models.TextChoices):
        WATCHING = "watching"
        MIRRORING = "mirroring"
        ENDED = "ended"

    subscriber = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="subscriptions"
    )
    pilot = models.ForeignKey(Pilot, on_delete=models.CASCADE, related_name="subscriptions")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WATCHING)
    started_at = models.DateTimeField()
    watch_ends_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    group = models.OneToOneField(
        "routing.CopyGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="subscription",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "pilot"],
                condition=~Q(status="ended"),
                name="uniq_open_subscription",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["watching", "mirroring", "ended"]),
                name="subscription_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} follows {self.pilot_id} ({self.status})"


class MarketBar(BaseModel):
    """One OHLC bar of a price family (a mini root: NQ bars price MNQ fills
    too), 1 minute to 1 hour long, starting at ``start`` (aware UTC);
    ``month`` ("Z5") when the bars are of one contract month, blank for a
    continuous front-month series. Pilots' fill prices are verified against
    these (:mod:`pilots.verification`); loaded by ``manage.py
    market_bars_load``."""

    family = models.CharField(max_length=10)
    month = models.CharField(max_length=3, blank=True)
    interval_seconds = models.PositiveIntegerField()
    start = models.DateTimeField()
    open = models.DecimalField(max_digits=20, decimal_places=6)
    high = models.DecimalField(max_digits=20, decimal_places=6)
    low = models.DecimalField(max_digits=20, decimal_places=6)
    close = models.DecimalField(max_digits=20, decimal_places=6)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["family", "month", "interval_seconds", "start"], name="uniq_market_bar"
            ),
            models.CheckConstraint(
                condition=Q(interval_seconds__gte=60, interval_seconds__lte=3600),
                name="market_bar_interval_1m_to_1h",
            ),
        ]


class PilotRecord(BaseModel):
    """A pilot's verified record as last computed (:mod:`pilots.records`).

    ``data`` is the report (:func:`pilots.report.report_data`: statistics of
    every fill since publishing and of the verified ones, each fill's
    verification, anomaly flags, listing and score components). ``score``
    is set only when ``listed``; ``flagged`` when a check failed or an
    anomaly flag is up (the pilot then waits for staff review).
    """

    pilot = models.OneToOneField(Pilot, on_delete=models.CASCADE, related_name="record")
    computed_at = models.DateTimeField()
    last_fill_at = models.DateTimeField(null=True, blank=True)
    listed = models.BooleanField(default=False)
    seasoned = models.BooleanField(default=False, help_text="60+ days of verified history.")
    flagged = models.BooleanField(default=False)
    score = models.FloatField(null=True, blank=True)
    data = models.JSONField(default=dict)
