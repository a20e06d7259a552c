"""The journal: append-only audit trail, fills, positions, imported trades."""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q

from copytrade.core.models import ZERO, BaseModel, money_field, price_field
from routing.engine.positions import Position as EnginePosition


class EventType(models.TextChoices):
    """Stable codes of journal entries; grouped by area, never renumbered."""

    COPY_GROUP_CREATED = "copy_group.created"
    FOLLOWER_ADDED = "follower.added"
    RISK_LIMIT_CHANGED = "risk_limit.changed"
    LEADER_EVENT_RECEIVED = "leader_event.received"
    COPY_ORDER_BLOCKED = "copy_order.blocked"
    COPY_ORDER_FILLED = "copy_order.filled"
    COPY_ORDER_REJECTED = "copy_order.rejected"
    COPY_GROUP_CHANGED = "copy_group.changed"
    COPY_GROUP_PAUSED = "copy_group.paused"
    COPY_GROUP_RESUMED = "copy_group.resumed"
    COPY_GROUP_DELETED = "copy_group.deleted"
    FOLLOWER_PAUSED = "follower.paused"
    FOLLOWER_RESUMED = "follower.resumed"
    FOLLOWER_CHANGED = "follower.changed"
    LEADER_EVENT_REJECTED = "leader_event.rejected"
    QUARANTINE_STARTED = "quarantine.started"
    QUARANTINE_RELEASED = "quarantine.released"
    DESYNC_FOUND = "desync.found"
    DESYNC_SYNCED = "desync.synced"
    DESYNC_UNTRACKED = "desync.untracked"
    DESYNC_RESOLVED = "desync.resolved"
    ORDER_RECOVERED = "copy_order.recovered"
    EXPORT_IMPORTED = "export.imported"
    REPLAY_STARTED = "replay.started"
    REPLAY_FINISHED = "replay.finished"
    COPY_ORDER_SCALED = "copy_order.scaled_down"
    ROUTE_LEVEL_CHANGED = "route.level_changed"
    ROUTE_REVIEWED = "route.reviewed"
    INCIDENT = "incident.recorded"
    ACCOUNT_HALTED = "account.halted"
    ACCOUNT_FLATTENED = "account.flattened"
    FLATTEN_REQUESTED = "flatten.requested"
    FLATTEN_DONE = "flatten.done"
    SESSION_RESET = "session.reset"
    LEADER_TAKEN_OVER = "engine.leader_taken_over"
    PILOT_PUBLISHED = "pilot.published"
    PILOT_FLAGGED = "pilot.flagged"
    PILOT_RECORD_FAILED = "pilot.record_failed"
    PILOT_REVIEWED = "pilot.reviewed"
    PLAN_CHANGED = "plan.changed"
    SUBSCRIPTION_STARTED = "subscription.started"
    SUBSCRIPTION_MIRRORING = "subscription.mirroring"
    SUBSCRIPTION_ENDED = "subscription.ended"
    SECOND_FACTOR_ENABLED = "second_factor.enabled"
    SECOND_FACTOR_DISABLED = "second_factor.disabled"
    SECOND_FACTOR_FAILED = "second_factor.failed"
    BROKER_RECONNECTED = "broker.reconnected"
    LOGIN_FAILED = "login.failed"
    LOGIN_LOCKED_OUT = "login.locked_out"
    REAUTHENTICATED = "login.reauthenticated", "Re-authenticated"
    REAUTHENTICATION_FAILED = "login.reauthentication_failed", "Re-authentication Failed"
    BROKER_LOGIN_ADDED = "broker_login.added"
    BROKER_LOGIN_CHANGED = "broker_login.changed"
    BROKER_LOGIN_ENABLED = "broker_login.enabled"
    BROKER_LOGIN_DISABLED = "broker_login.disabled"
    BROKER_LOGIN_REMOVED = "broker_login.removed"
    BROKER_ACCOUNT_ADDED = "broker_account.added"
    BROKER_ACCOUNT_CHANGED = "broker_account.changed"
    BROKER_ACCOUNT_ENABLED = "broker_account.enabled"
    BROKER_ACCOUNT_DISABLED = "broker_account.disabled"
    BROKER_ACCOUNT_REMOVED = "broker_account.removed"
    CONTRACT_MAPPINGS_CHANGED = "contract_mapping.changed"
    SESSION_REVIEW_SAVED = "session_review.saved"
    POSITION_CLOSE_REQUESTED = "position.close_requested"
    POSITION_CLOSED = "position.closed"
    POSITION_UNTRACKED = "position.untracked"


class JournalEntry(models.Model):
    """What changed, who or what changed it, why, and the state before and after.

    Append-only: the model refuses updates and deletes, and database triggers
    (migration 0002) refuse them from raw SQL too. References to groups and
    accounts are plain ids, not foreign keys, so deleting a group keeps its
    journal intact.
    """

    occurred_at = models.DateTimeField(db_index=True)
    # No index of its own: journal_owner_recent leads with it, and a second
    # index would be written with every journal row (a leader event writes
    # one per blocked or scaled order, an answered event one per fill).
    owner_id = models.BigIntegerField(help_text="User whose journal this is.")
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_label = models.CharField(max_length=100, help_text="'engine', 'replay', a username…")
    event_type = models.CharField(max_length=60, choices=EventType.choices)
    group_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    account_id = models.BigIntegerField(null=True, blank=True)
    message = models.TextField()
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    extra_data = models.JSONField(default=dict, encoder=DjangoJSONEncoder)

    class Meta:
        indexes = [models.Index(fields=["owner_id", "-occurred_at"], name="journal_owner_recent")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.event_type}: {self.message}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise ValueError("journal entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValueError("journal entries are append-only")


class Fill(BaseModel):
    """An execution on a broker account, keyed on the broker's fill id so a
    fill reported twice is stored once (Hummingbot's trade_id rule)."""

    # No index of its own: (account, broker_fill_id) leads with it, and every
    # index is paid for on each fill written.
    account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="fills", db_index=False
    )
    copy_order = models.ForeignKey(
        "routing.CopyOrder", on_delete=models.SET_NULL, null=True, blank=True, related_name="fills"
    )
    broker_fill_id = models.CharField(max_length=100)
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4)
    qty = models.PositiveIntegerField()
    price = price_field()
    realized_pnl = money_field(default=ZERO, help_text="Dollars realized by this fill.")
    filled_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "broker_fill_id"], name="uniq_fill_account_broker_id"
            ),
            models.CheckConstraint(condition=Q(qty__gt=0), name="fill_qty_gt_0"),
        ]


class Position(BaseModel):
    """Net position of one account in one contract, as the journal sees it."""

    account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="positions"
    )
    symbol = models.CharField(max_length=20)
    qty = models.IntegerField(default=0, help_text="Signed contracts: + long, - short.")
    avg_price = price_field(default=ZERO)
    realized_pnl = money_field(default=ZERO)
    mark_price = price_field(null=True, blank=True)
    unrealized_pnl = money_field(default=ZERO)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "symbol"], name="uniq_position_account_symbol"
            ),
        ]

    def to_engine(self) -> EnginePosition:
        """The engine's value for this row (position math lives in the engine)."""
        return EnginePosition(
            qty=self.qty, avg_price=self.avg_price, realized_pnl=self.realized_pnl
        )


class SessionRealized(BaseModel):
    """Dollars one account realized in one trading session, and its fills:
    a running total moved by every fill the journal stores
    (:func:`journal.fills.fills_record`, in the fill's transaction), keyed
    by the CME trading date of the fill's time
    (:func:`routing.engine.sessions.trading_date`: a session opens at 17:00
    America/Chicago and is dated by the day it closes).

    The risk engine reads an account's session PnL on every leader event for
    every follower; summing the session's fills instead cost time that grew
    with the fills of the day.
    """

    # No index of its own: the unique constraint leads with it.
    account = models.ForeignKey(
        "accounts.BrokerAccount",
        on_delete=models.CASCADE,
        related_name="session_realized",
        db_index=False,
    )
    trading_date = models.DateField()
    realized_pnl = money_field(default=ZERO)
    fills = models.PositiveIntegerField(default=0, help_text="Fills counted in realized_pnl.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "trading_date"], name="uniq_session_realized_account_date"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.trading_date}: {self.realized_pnl} ({self.fills} fills)"


class ExportImport(BaseModel):
    """One imported broker export: its parsed leader fills (kept for replay)
    and counts. All or nothing: a file with one bad row creates no row here."""

    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="imports")
    file_name = models.CharField(max_length=255)
    format = models.CharField(max_length=40)
    timezone = models.CharField(max_length=60)
    leader_account_name = models.CharField(max_length=100, blank=True)
    replayable = models.BooleanField()
    fills = models.JSONField(default=list, encoder=DjangoJSONEncoder)
    fill_count = models.PositiveIntegerField(default=0)
    trade_count = models.PositiveIntegerField(default=0)


class Trade(BaseModel):
    """A closed round trip imported from an export (journal, not copying)."""

    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="trades")
    export_import = models.ForeignKey(ExportImport, on_delete=models.CASCADE, related_name="trades")
    source_format = models.CharField(max_length=40)
    account_name = models.CharField(max_length=100)
    external_id = models.CharField(max_length=200)
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4)
    qty = models.PositiveIntegerField()
    entry_price = price_field(null=True, blank=True)
    exit_price = price_field(null=True, blank=True)
    pnl = money_field()
    fees = money_field(default=ZERO)
    opened_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "source_format", "account_name", "external_id"],
                name="uniq_trade_per_source",
            ),
        ]


class ImportJob(BaseModel):
    """An uploaded broker export being read in the background (issue 10, defect 9).

    The upload is stored under ``settings.UPLOAD_DIR`` as ``stored_name``
    and read by a worker (a Celery task, or a thread of the web process in
    the embedded default), which claims the job with a conditional update
    (pending -> running) so two workers never read the same file. Progress
    is ``bytes_read`` of ``total_bytes`` and ``rows_read`` data rows. A job
    that ends DONE points at the :class:`ExportImport` it created; one that
    ends FAILED created nothing and ``error`` says why (file, row, field).
    The stored file is deleted when the job ends (``stored_name`` then "").
    """

    class Status(models.TextChoices):
        PENDING = "pending"  # stored on disk, waiting for a worker
        RUNNING = "running"  # a worker is reading it; progress moves
        DONE = "done"  # export_import holds the result; notes say what happened
        FAILED = "failed"  # nothing imported; error says why

    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="import_jobs")
    # SET_NULL: a group deleted while its upload is read leaves the job to
    # fail with a reason instead of vanishing under the worker.
    group = models.ForeignKey(
        "routing.CopyGroup",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="import_jobs",
        help_text="Group the replay is queued into.",
    )
    file_name = models.CharField(max_length=255, help_text="As uploaded (shown, used in errors).")
    stored_name = models.CharField(
        max_length=100, blank=True, help_text="File under UPLOAD_DIR; empty once deleted."
    )
    timezone = models.CharField(max_length=60, help_text="Zone of zone-less timestamps.")
    leader_account = models.CharField(max_length=100, blank=True)
    interval_ms = models.PositiveIntegerField(help_text="Replay pacing, ms between fills.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    total_bytes = models.PositiveBigIntegerField()
    bytes_read = models.PositiveBigIntegerField(default=0)
    rows_read = models.PositiveIntegerField(default=0, help_text="Data rows read so far.")
    error = models.TextField(blank=True)
    notes = models.JSONField(
        default=list,
        encoder=DjangoJSONEncoder,
        help_text='What the user is told when it ends: [{"level": "success"|"warning"|'
        '"error", "text": ...}].',
    )
    export_import = models.ForeignKey(
        ExportImport,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="import_jobs",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The group page's list: one user's jobs for one group, newest first.
            models.Index(fields=["owner", "group", "-id"], name="import_job_owner_group"),
            # import_jobs_expire: jobs not ended yet.
            models.Index(
                fields=["updated_at"],
                name="import_job_open",
                condition=Q(status__in=["pending", "running"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(bytes_read__lte=models.F("total_bytes")),
                name="import_job_bytes_read_lte_total",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "running", "done", "failed"]),
                name="import_job_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"

    @property
    def is_open(self) -> bool:
        """Pending or running: its status and progress may still change."""
        return self.status in (self.Status.PENDING, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        """Progress: bytes read as a whole percent of the file, 0 to 100."""
        return 100 if self.total_bytes == 0 else self.bytes_read * 100 // self.total_bytes


class SessionReview(BaseModel):
    """The trader's own note on one trading date: what went well, what to
    change. One per (owner, trading date) for the whole day and one per
    (owner, trading date, group); the trading date is the CME session's
    (:func:`routing.engine.sessions.trading_date`: 17:00 America/Chicago to
    16:00, dated by the day it closes).

    Editable, unlike journal entries: every save is journaled
    (``session_review.saved``) with the text before and after, so the
    journal keeps each version. ``group_id`` is a plain id as in the journal
    (a deleted group's notes stay), with ``group_name`` as it was when written.
    """

    TEXT_MAX = 5000

    owner = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="session_reviews"
    )
    trading_date = models.DateField()
    group_id = models.BigIntegerField(
        null=True, blank=True, help_text="The group the note is about; empty: the whole day."
    )
    group_name = models.CharField(max_length=100, blank=True)
    went_well = models.TextField(blank=True)
    to_change = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "trading_date", "group_id"],
                condition=Q(group_id__isnull=False),
                name="uniq_session_review_group",
            ),
            models.UniqueConstraint(
                fields=["owner", "trading_date"],
                condition=Q(group_id__isnull=True),
                name="uniq_session_review_day",
            ),
            models.CheckConstraint(
                condition=~Q(went_well="") | ~Q(to_change=""),
                name="session_review_not_empty",
            ),
        ]
        indexes = [
            # The journal page's list: one user's notes by date.
            models.Index(fields=["owner", "-trading_date"], name="session_review_owner_date"),
        ]

    def __str__(self) -> str:
        return f"{self.trading_date} {self.group_name or 'all groups'}"
