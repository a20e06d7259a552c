"""Copy groups (routes), followers, risk limits, contract specs, leader events
and copy orders.

Invariants live in the database, not only in forms: ratio bounds, one
membership per follower account, leader fixed after creation and no account
both leader and follower (the last two by triggers, see migration 0002).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.db import models
from django.db.models import Q

from copytrade.core.models import BaseModel, StoredGeneratedField, money_field, price_field
from routing.engine import limits as engine_limits
from routing.engine import types as engine_types

RATIO_MIN = engine_types.RATIO_MIN
RATIO_MAX = engine_types.RATIO_MAX


def _plain(value: Decimal) -> Decimal:
    """Drop the column's trailing zeros (0.250000 -> 0.25, 50.0000 -> 50) so
    prices computed from it keep the contract's own precision."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


class ContractSpec(models.Model):
    """A futures product's exchange specification (seeded from
    :mod:`routing.contract_specs`, which names the source of each row)."""

    root = models.CharField(max_length=10, unique=True)
    name = models.CharField(max_length=100)
    exchange = models.CharField(max_length=20)
    tick_size = models.DecimalField(max_digits=12, decimal_places=6)
    tick_value = models.DecimalField(max_digits=12, decimal_places=4)
    point_value = models.DecimalField(max_digits=14, decimal_places=4)
    micro_of = models.CharField(max_length=10, blank=True, help_text="Root of the larger contract.")
    currency = models.CharField(max_length=3, default="USD")
    source = models.TextField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(tick_size__gt=0), name="contract_spec_tick_size_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(point_value__gt=0), name="contract_spec_point_value_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(tick_value__gt=0), name="contract_spec_tick_value_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return self.root

    def to_engine(self) -> engine_types.ContractSpec:
        return engine_types.ContractSpec(
            root=self.root,
            name=self.name,
            exchange=self.exchange,
            tick_size=_plain(self.tick_size),
            tick_value=_plain(self.tick_value),
            point_value=_plain(self.point_value),
            micro_of=self.micro_of or None,
            currency=self.currency,
            source=self.source,
        )


class CopyGroup(BaseModel):
    """A route: exactly one leader account copied into its followers.

    The leader cannot change after creation (database trigger); an account
    that leads a group never follows anywhere.
    """

    CopyMode = models.TextChoices("CopyMode", [(m.name, m.value) for m in engine_types.CopyMode])
    Rounding = models.TextChoices(
        "Rounding", [(m.name, m.value) for m in engine_types.RoundingMode]
    )

    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="copy_groups")
    name = models.CharField(max_length=100)
    leader = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.PROTECT, related_name="led_groups"
    )
    copy_mode = models.CharField(max_length=20, choices=CopyMode.choices, default="multiplier")
    copy_value = models.DecimalField(max_digits=12, decimal_places=4, default=Decimal(1))
    rounding = models.CharField(
        max_length=30, choices=Rounding.choices, default="entry_down_exit_up"
    )
    SizingMode = models.TextChoices(
        "SizingMode", [(m.name, m.value) for m in engine_types.SizingMode]
    )
    PartialExit = models.TextChoices(
        "PartialExit", [(m.name, m.value) for m in engine_types.PartialExit]
    )
    sizing_mode = models.CharField(max_length=20, choices=SizingMode.choices, default="contracts")
    auto_micro = models.BooleanField(
        default=False, help_text="Re-size on the micro an entry that rounds to zero on the mini."
    )
    quarantine = models.BooleanField(
        default=True, help_text="Pause a symbol for a follower that rejected an entry in it."
    )
    partial_exit = models.CharField(
        max_length=20, choices=PartialExit.choices, default="proportional"
    )
    enabled = models.BooleanField(default=True)
    # Led by another user's published pilot account (a subscription's route):
    # that account's name stays the pilot's (pages show ``leader_label``).
    pilot_route = models.BooleanField(default=False)

    # Route budget (issue "The risk engine"): the level and the route's limits.
    Level = models.IntegerChoices("Level", [(m.name, m.value) for m in engine_limits.RouteLevel])
    level = models.PositiveSmallIntegerField(choices=Level.choices, default=Level.ACTIVE)
    level_reason = models.TextField(blank=True, help_text="Why the route is at its level.")
    level_changed_at = models.DateTimeField(null=True, blank=True)
    reviewed_on = models.DateField(
        null=True, blank=True, help_text="Trading date the route was last marked reviewed."
    )
    reviewed_by = models.CharField(max_length=150, blank=True)
    max_accounts = models.PositiveIntegerField(
        null=True, blank=True, help_text="Followers that receive entries (the first ones)."
    )
    max_contracts_per_account = models.PositiveIntegerField(null=True, blank=True)
    max_total_contracts = models.PositiveIntegerField(
        null=True, blank=True, help_text="Contracts across all followers."
    )
    max_session_loss = money_field(
        null=True, blank=True, help_text="Dollars across all followers; reached: level 4."
    )
    stop_ticks = models.PositiveIntegerField(
        null=True, blank=True, help_text="Stop distance in ticks, for risk per contract."
    )
    slippage_ticks = models.PositiveIntegerField(
        default=0, help_text="Slippage allowance in ticks, added to the stop distance."
    )
    max_slippage_ticks = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fill slippage beyond this many ticks locks the route."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="uniq_copy_group_owner_name"),
            models.CheckConstraint(
                condition=Q(level__gte=0) & Q(level__lte=4), name="copy_group_level_0_to_4"
            ),
            models.CheckConstraint(
                condition=Q(max_session_loss__isnull=True) | Q(max_session_loss__gt=0),
                name="copy_group_max_session_loss_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(sizing_mode__in=[m.value for m in engine_types.SizingMode]),
                name="copy_group_sizing_mode_valid",
            ),
            models.CheckConstraint(
                condition=Q(partial_exit__in=[m.value for m in engine_types.PartialExit]),
                name="copy_group_partial_exit_valid",
            ),
            models.CheckConstraint(
                condition=Q(copy_value__gt=0), name="copy_group_copy_value_gt_0"
            ),
            models.CheckConstraint(
                condition=Q(copy_mode__in=[m.value for m in engine_types.CopyMode]),
                name="copy_group_copy_mode_valid",
            ),
            models.CheckConstraint(
                condition=Q(rounding__in=[m.value for m in engine_types.RoundingMode]),
                name="copy_group_rounding_valid",
            ),
        ]

    @property
    def leader_label(self) -> str:
        """The leader as this route's owner may see it: the account's name,
        or "a published pilot" for a subscription's route (the pilot's
        account name is not the subscriber's to see)."""
        return "a published pilot" if self.pilot_route else self.leader.name

    def __str__(self) -> str:
        return self.name

    def to_engine(
        self, mappings: tuple[tuple[str, str], ...] | None = None
    ) -> engine_types.GroupConfig:
        """The engine's settings; reads the leader's balance and, unless
        given (``(leader root, follower root)`` pairs by leader root, read
        for many groups at once), the mappings."""
        if mappings is None:
            mappings = tuple(
                self.mappings.order_by("leader_root").values_list("leader_root", "follower_root")
            )
        return engine_types.GroupConfig(
            copy_mode=engine_types.CopyMode(self.copy_mode),
            copy_value=self.copy_value,
            rounding=engine_types.RoundingMode(self.rounding),
            sizing_mode=engine_types.SizingMode(self.sizing_mode),
            auto_micro=self.auto_micro,
            quarantine=self.quarantine,
            partial_exit=engine_types.PartialExit(self.partial_exit),
            mappings=mappings,
            leader_balance=self.leader.balance,
            enabled=self.enabled,
            limits=self.route_limits(),
        )

    def route_limits(self, *, trading_date: date | None = None) -> engine_limits.RouteLimits:
        """The route's level and limits for the engine; ``reviewed`` is True
        when the route was marked reviewed for ``trading_date``."""
        return engine_limits.RouteLimits(
            level=engine_limits.RouteLevel(self.level),
            reviewed=trading_date is not None and self.reviewed_on == trading_date,
            max_accounts=self.max_accounts or None,
            max_contracts_per_account=self.max_contracts_per_account or None,
            max_total_contracts=self.max_total_contracts or None,
            max_session_loss=self.max_session_loss,
            stop_ticks=self.stop_ticks or None,
            slippage_ticks=self.slippage_ticks,
            max_slippage_ticks=self.max_slippage_ticks,
        )


class ContractMapping(BaseModel):
    """An explicit leader -> follower product pair for one group (``MNQ`` ->
    ``NQ``); the contract month carries over. Overrides copying into the
    leader's own product."""

    group = models.ForeignKey(CopyGroup, on_delete=models.CASCADE, related_name="mappings")
    leader_root = models.CharField(max_length=10)
    follower_root = models.CharField(max_length=10)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "leader_root"], name="uniq_contract_mapping_group_leader_root"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.leader_root} -> {self.follower_root}"


class Follower(BaseModel):
    """Membership of a broker account in a copy group.

    An account follows at most one group: two leaders steering one account
    would make its expected position ambiguous.
    """

    group = models.ForeignKey(CopyGroup, on_delete=models.CASCADE, related_name="followers")
    account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.PROTECT, related_name="memberships"
    )
    SizingBasis = models.TextChoices(
        "SizingBasis", [(m.name, m.value) for m in engine_types.SizingBasis]
    )
    ratio = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal(1))
    sizing_basis = models.CharField(max_length=20, choices=SizingBasis.choices, default="ratio")
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account"], name="uniq_follower_account"),
            models.CheckConstraint(
                condition=Q(ratio__gte=RATIO_MIN) & Q(ratio__lte=RATIO_MAX),
                name="follower_ratio_between_0_1_and_1000",
            ),
            models.CheckConstraint(
                condition=Q(sizing_basis__in=[m.value for m in engine_types.SizingBasis]),
                name="follower_sizing_basis_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} in {self.group}"


def _roots(text: str) -> frozenset[str]:
    return frozenset(r.strip().upper() for r in text.split(",") if r.strip())


class RiskLimit(BaseModel):
    """Per-account limits checked before every copied entry and watched while
    positions are open (:class:`routing.engine.limits.RiskLimits` documents
    each one). Empty means no limit."""

    OnBreach = models.TextChoices("OnBreach", [(m.name, m.value) for m in engine_limits.OnBreach])
    Direction = models.TextChoices(
        "Direction", [(m.name, m.value) for m in engine_limits.Direction]
    )
    DrawdownMode = models.TextChoices(
        "DrawdownMode", [(m.name, m.value) for m in engine_limits.DrawdownMode]
    )

    account = models.OneToOneField(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="risk_limit"
    )
    daily_loss = money_field(
        null=True, blank=True, help_text="Dollars; entries stop at this session loss."
    )
    flatten_on_breach = models.BooleanField(
        default=False, help_text="Also close the account's positions when the daily loss trips."
    )
    daily_profit_target = money_field(
        null=True,
        blank=True,
        help_text="Dollars; entries stop for the session once its PnL (realized + unrealized) "
        "reaches this. Exits still copy.",
    )
    max_contracts = models.PositiveIntegerField(null=True, blank=True, help_text="Per entry order.")
    max_position = models.PositiveIntegerField(
        null=True, blank=True, help_text="Contracts per position."
    )
    max_open_positions = models.PositiveIntegerField(null=True, blank=True)
    position_cap_pct = models.DecimalField(
        max_digits=6,
        decimal_places=3,
        null=True,
        blank=True,
        help_text="Percent of balance one position may risk (dollars of exposure).",
    )
    exposure_cap = money_field(
        null=True, blank=True, help_text="Dollars of exposure across all positions."
    )
    on_breach = models.CharField(
        max_length=12, choices=OnBreach.choices, default=engine_limits.OnBreach.BLOCK.value
    )
    allowed_roots = models.CharField(
        max_length=200, blank=True, help_text="Comma-separated product roots; empty: all."
    )
    denied_roots = models.CharField(max_length=200, blank=True)
    direction = models.CharField(
        max_length=12, choices=Direction.choices, default=engine_limits.Direction.BOTH.value
    )
    max_drawdown = money_field(null=True, blank=True)
    drawdown_mode = models.CharField(
        max_length=20,
        choices=DrawdownMode.choices,
        default=engine_limits.DrawdownMode.STATIC.value,
    )
    profit_target = money_field(null=True, blank=True)
    consistency_pct = models.DecimalField(
        max_digits=5, decimal_places=2, default=engine_limits.DEFAULT_CONSISTENCY_PCT
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(daily_loss__isnull=True) | Q(daily_loss__gt=0),
                name="risk_limit_daily_loss_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(daily_profit_target__isnull=True) | Q(daily_profit_target__gt=0),
                name="risk_limit_daily_profit_target_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(max_contracts__isnull=True) | Q(max_contracts__gt=0),
                name="risk_limit_max_contracts_gt_0",
            ),
            models.CheckConstraint(
                condition=Q(position_cap_pct__isnull=True)
                | (Q(position_cap_pct__gt=0) & Q(position_cap_pct__lte=100)),
                name="risk_limit_position_cap_pct_0_100",
            ),
            models.CheckConstraint(
                condition=Q(consistency_pct__gt=0) & Q(consistency_pct__lte=100),
                name="risk_limit_consistency_pct_0_100",
            ),
            models.CheckConstraint(
                condition=Q(on_breach__in=[m.value for m in engine_limits.OnBreach]),
                name="risk_limit_on_breach_valid",
            ),
            models.CheckConstraint(
                condition=Q(direction__in=[m.value for m in engine_limits.Direction]),
                name="risk_limit_direction_valid",
            ),
            models.CheckConstraint(
                condition=Q(drawdown_mode__in=[m.value for m in engine_limits.DrawdownMode]),
                name="risk_limit_drawdown_mode_valid",
            ),
        ]

    def to_engine(self) -> engine_limits.RiskLimits:
        """The engine's value; raises ``ValueError`` naming an inconsistent limit."""
        return engine_limits.RiskLimits(
            daily_loss=self.daily_loss,
            daily_profit_target=self.daily_profit_target,
            max_contracts=self.max_contracts or None,
            max_position=self.max_position or None,
            max_open_positions=self.max_open_positions or None,
            position_cap_pct=self.position_cap_pct,
            exposure_cap=self.exposure_cap or None,
            on_breach=engine_limits.OnBreach(self.on_breach),
            allowed_roots=_roots(self.allowed_roots),
            denied_roots=_roots(self.denied_roots),
            direction=engine_limits.Direction(self.direction),
            max_drawdown=self.max_drawdown or None,
            drawdown_mode=engine_limits.DrawdownMode(self.drawdown_mode),
            profit_target=self.profit_target or None,
            consistency_pct=self.consistency_pct,
            flatten_on_breach=self.flatten_on_breach,
        )


class Side(models.TextChoices):
    BUY = "buy"
    SELL = "sell"


class LeaderEvent(BaseModel):
    """A fill on a leader account, normalised; ``external_id`` de-duplicates
    re-deliveries of the same broker fill."""

    account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.PROTECT, related_name="leader_events"
    )
    external_id = models.CharField(max_length=100)
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4, choices=Side.choices)
    qty = models.PositiveIntegerField()
    price = price_field()
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=60, help_text="Adapter or import that delivered it.")
    received_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "When the engine worker took the event in, before it waited for the leader's "
            "lock (latency starts here); empty for events stored by another door."
        ),
    )
    seq = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The leader stream's sequence number, when it has one."
    )
    order_id = models.CharField(
        max_length=100, blank=True, help_text="The leader order the fill belongs to."
    )
    action = models.CharField(
        max_length=10,
        blank=True,
        help_text="For a working-order event: new, modify or cancel (blank for a fill).",
    )
    fill_pending = models.BooleanField(
        default=False,
        help_text=(
            "The leader's own fill is not in its journal yet: the engine worker records it "
            "with the event's broker answers, after the copies are handed over, and the "
            "leader's next event records it first if that never happened."
        ),
    )

    class Meta:
        indexes = [
            # Only the few events whose leader fill is still owed: the ingest
            # asks for them under the leader's lock at every event.
            models.Index(
                fields=["account"],
                condition=Q(fill_pending=True),
                name="leader_event_fill_pending",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "external_id"], name="uniq_leader_event_account_external_id"
            ),
            models.CheckConstraint(condition=Q(qty__gt=0), name="leader_event_qty_gt_0"),
            models.CheckConstraint(
                condition=Q(side__in=["buy", "sell"]), name="leader_event_side_valid"
            ),
        ]

    def to_engine(self) -> engine_types.LeaderFill:
        return engine_types.LeaderFill(
            event_id=self.external_id,
            account=str(self.account_id),
            symbol=self.symbol,
            side=engine_types.Side(self.side),
            qty=self.qty,
            price=self.price,
            time=self.occurred_at,
            order_id=self.order_id or None,
            seq=self.seq,
        )


class CopyOrder(BaseModel):
    """One order generated for one follower from one leader event.

    ``client_order_id`` is deterministic (route, event, follower), so a
    re-delivered event can never place a second order.
    """

    class Status(models.TextChoices):
        BLOCKED = "blocked"  # a risk rule refused it; reason says which and why
        SKIPPED = "skipped"  # nothing to send: sized to zero, follower flat on an exit, disabled
        PENDING = "pending"  # decided, not yet handed to the broker
        SENT = "sent"  # handed to the broker, outcome not yet known
        WORKING = "working"  # acknowledged by the broker, resting
        PARTIALLY_FILLED = "partially_filled"
        FILLED = "filled"
        REJECTED = "rejected"  # the broker refused it
        CANCELLED = "cancelled"

    class Kind(models.TextChoices):
        COPY = "copy"  # decided from a leader fill
        SYNC = "sync"  # sent by the user to bring a desynced follower to its expected position

    # Handed to (or about to be handed to) the broker, outcome still open.
    OPEN_STATUSES = (Status.PENDING, Status.SENT, Status.WORKING, Status.PARTIALLY_FILLED)
    # Can never change again.
    FINAL_STATUSES = frozenset({Status.FILLED, Status.REJECTED, Status.CANCELLED})

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.COPY)
    # No index of their own for the event, the group and the account: the
    # two unique constraints and ``copy_order_group_recent`` lead with them
    # and serve every lookup by them, and each index is one more write per
    # order on the copy path (hundreds per leader event).
    leader_event = models.ForeignKey(
        LeaderEvent,
        on_delete=models.PROTECT,
        related_name="copy_orders",
        null=True,
        blank=True,
        db_index=False,
    )
    group = models.ForeignKey(
        CopyGroup, on_delete=models.CASCADE, related_name="copy_orders", db_index=False
    )
    follower = models.ForeignKey(Follower, on_delete=models.CASCADE, related_name="copy_orders")
    account = models.ForeignKey(
        "accounts.BrokerAccount",
        on_delete=models.PROTECT,
        related_name="copy_orders",
        db_index=False,
    )
    client_order_id = models.CharField(max_length=40)
    broker_order_id = models.CharField(max_length=100, blank=True)
    symbol = models.CharField(max_length=20)
    side = models.CharField(max_length=4, choices=Side.choices)
    qty = models.PositiveIntegerField()
    intent = models.CharField(max_length=10)
    status = models.CharField(max_length=20, choices=Status.choices)
    reason = models.TextField(blank=True)
    filled_qty = models.PositiveIntegerField(default=0)
    avg_fill_price = price_field(null=True, blank=True)
    OrderType = models.TextChoices("OrderType", [(m.name, m.value) for m in engine_types.OrderType])
    order_type = models.CharField(max_length=12, choices=OrderType.choices, default="market")
    limit_price = price_field(null=True, blank=True)
    stop_price = price_field(null=True, blank=True)
    leader_order_id = models.CharField(
        max_length=100, blank=True, help_text="The leader working order this one mirrors."
    )
    position_before = models.IntegerField(
        default=0, help_text="Follower's tracked signed position before this order."
    )
    target = models.IntegerField(
        default=0, help_text="Follower's tracked signed position once this order fills."
    )
    # Measured latency (routing.copy_quality): from the leader event's
    # received_at (when the engine worker took it in) to these two instants,
    # stamped by the engine worker and written with the broker's answer.
    handed_at = models.DateTimeField(
        null=True, blank=True, help_text="When the engine handed the order to the broker adapter."
    )
    acknowledged_at = models.DateTimeField(
        null=True, blank=True, help_text="When the broker's first answer to the order came back."
    )
    # PENDING, kept by the database itself (no writer can forget it): the
    # order router finds such orders through the partial index on it. An
    # index on ``status`` would make every broker answer's UPDATE (SENT ->
    # FILLED, hundreds per leader event) write a new entry into each of the
    # table's indexes; with none on a column an answer changes, PostgreSQL
    # updates the row in place on its page (a "heap-only tuple": PostgreSQL's
    # src/backend/access/heap/README.HOT), given room on the page (fillfactor
    # 50, migration 0023).
    awaiting_claim = StoredGeneratedField(
        expression=Q(status="pending"), output_field=models.BooleanField()
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["leader_event", "follower"], name="uniq_copy_order_event_follower"
            ),
            models.UniqueConstraint(
                fields=["account", "client_order_id"], name="uniq_copy_order_client_id"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["blocked", "skipped"], qty=0)
                | (~Q(status__in=["blocked", "skipped"]) & Q(qty__gt=0)),
                name="copy_order_qty_matches_status",
            ),
            models.CheckConstraint(
                condition=Q(filled_qty__lte=models.F("qty")), name="copy_order_filled_lte_qty"
            ),
            models.CheckConstraint(
                condition=Q(kind="sync") | Q(leader_event__isnull=False),
                name="copy_order_copy_has_leader_event",
            ),
        ]
        indexes = [
            # The dashboard feed: a user's latest orders per group.
            models.Index(fields=["group", "-id"], name="copy_order_group_recent"),
            # The order router picks up decided-but-unsent orders
            # (routing.services.orders.copy_orders_pending).
            models.Index(
                fields=["id"], name="copy_order_awaiting_claim", condition=Q(awaiting_claim=True)
            ),
        ]


class ReplayJob(BaseModel):
    """A stream of imported leader fills fed to a group's leader, paced.

    Claimed by the engine worker with a conditional update (pending ->
    running, or a running job whose heartbeat went stale), which bumps
    ``generation``: the claim is a lease. The runner's heartbeats and its
    finish only count while the generation is still its own, so a runner
    that was presumed dead and replaced stops instead of streaming the job
    a second time (issue 10, defect 7).
    """

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for an engine worker
        RUNNING = "running"  # a worker is streaming it; next_index is the next fill
        DONE = "done"
        FAILED = "failed"  # error says why

    owner = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="replay_jobs")
    group = models.ForeignKey(CopyGroup, on_delete=models.CASCADE, related_name="replay_jobs")
    export_import = models.ForeignKey(
        "journal.ExportImport", on_delete=models.CASCADE, related_name="replay_jobs"
    )
    label = models.CharField(max_length=200)
    simulated = models.BooleanField(default=False, help_text="Generated data, not a real export.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    next_index = models.PositiveIntegerField(default=0)
    interval_ms = models.PositiveIntegerField(default=1500)
    repeat = models.BooleanField(default=False, help_text="Start over when done (the demo loops).")
    cycle = models.PositiveIntegerField(default=0, help_text="Times started over (in event ids).")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Last progress of the running worker."
    )
    generation = models.PositiveBigIntegerField(
        default=0, help_text="Claims so far: the running worker's lease on the job."
    )
    runner = models.CharField(max_length=200, blank=True, help_text="The worker streaming it.")
    error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["status"],
                name="replay_job_open",
                condition=Q(status__in=["pending", "running"]),
            )
        ]


class ExpectedPosition(BaseModel):
    """What copying has committed one follower account to in one contract.

    ``qty`` (signed contracts) moves with every copy order when it is decided
    (its full size, as if it fills) and back by the unfilled rest when the
    order ends rejected or cancelled, in the same transactions, so it is the
    engine's "follower position before" without reading the broker.
    ``untracked`` is what the user chose to leave alone at the broker (the
    *untrack* action on a desync): reconciliation expects ``qty + untracked``.
    """

    account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="expected_positions"
    )
    symbol = models.CharField(max_length=20)
    qty = models.IntegerField(default=0)
    untracked = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "symbol"], name="uniq_expected_position_account_symbol"
            ),
        ]


class Quarantine(BaseModel):
    """A symbol paused for one follower after the broker rejected an entry in it.

    Active while ``released_at`` is empty; released by the user or at the next
    session (``trading_date`` is the CME session it started in), journaled
    either way. Exits still pass, entries do not.
    """

    follower = models.ForeignKey(Follower, on_delete=models.CASCADE, related_name="quarantines")
    symbol = models.CharField(max_length=20)
    reason = models.TextField()
    trading_date = models.DateField()
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["follower", "symbol"],
                condition=Q(released_at__isnull=True),
                name="uniq_active_quarantine",
            ),
        ]


class Desync(BaseModel):
    """A follower whose broker position differs from what copying expects.

    Found by reconciliation (engine start, adapter reconnect); resolved by
    *sync* (an order for the difference), *untrack* (the difference is the
    user's own and left alone) or by the positions agreeing again.
    """

    class Status(models.TextChoices):
        OPEN = "open"
        SYNCED = "synced"
        UNTRACKED = "untracked"
        RESOLVED = "resolved"  # agreed again without action

    follower = models.ForeignKey(Follower, on_delete=models.CASCADE, related_name="desyncs")
    symbol = models.CharField(max_length=20)
    expected = models.IntegerField(help_text="Signed contracts copying expects (incl. untracked).")
    actual = models.IntegerField(help_text="Signed contracts the broker reports.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["follower", "symbol"],
                condition=Q(status="open"),
                name="uniq_open_desync",
            ),
        ]


class AccountSession(BaseModel):
    """One account's risk state for one CME session (trading date).

    Created by the session reset (Celery beat at 17:00 America/Chicago, or the
    first event of the session when the scheduler was down); unique on
    ``(account, trading_date)`` so a redelivered or doubled reset applies
    once. A new row *is* the reset: no halt, high-water marks carried over.
    ``opening_balance``: the balance snapshot at the session start (dollars);
    ``opening_unrealized``: the open positions' PnL then, so the session's
    PnL counts only what moved since (futures are marked to market daily);
    ``high_water``: the highest equity seen (intraday trailing drawdown);
    ``eod_high_water``: the highest opening balance, i.e. session-close
    balance (end-of-day trailing drawdown). ``halted_at`` / ``halt_reason``:
    no new entries for the rest of the session (daily loss, consistency,
    emergency flatten), journaled when set.
    """

    account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="sessions"
    )
    trading_date = models.DateField()
    opened_at = models.DateTimeField(help_text="UTC start of the session.")
    opening_balance = money_field()
    opening_unrealized = money_field(
        default=0, help_text="Open positions' PnL at the session start (carried in, not today's)."
    )
    high_water = money_field()
    eod_high_water = money_field()
    halted_at = models.DateTimeField(null=True, blank=True)
    halt_reason = models.TextField(blank=True)
    flatten_due = models.BooleanField(
        default=False,
        help_text="A breach halted it and its flatten on breach setting is on: close all.",
    )
    flattened_at = models.DateTimeField(
        null=True, blank=True, help_text="When a flatten on breach closed its positions."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "trading_date"], name="uniq_account_session_trading_date"
            ),
        ]


class Incident(BaseModel):
    """Something that went wrong on a route and locked it (level 4).

    Kinds (issue "The risk engine", Route budget): a duplicate order, a
    rejected order, an adapter disconnect, a symbol mismatch, slippage beyond
    the route's ``max_slippage_ticks``; and (issue 10) a broker fill id
    re-used with other content, and an event the engine could not apply.
    """

    class Kind(models.TextChoices):
        DUPLICATE_ORDER = "duplicate_order"
        REJECTED_ORDER = "rejected_order"
        ADAPTER_DISCONNECT = "adapter_disconnect"
        SYMBOL_MISMATCH = "symbol_mismatch"
        SLIPPAGE = "slippage"
        # A broker fill id already journaled on the account, received again
        # with other content: that execution is not in the journal.
        FILL_ID_REUSED = "fill_id_reused", "Fill id re-used"
        # A leader event, a broker update or a cancel / modify that still
        # failed after its retries: the route's state may be wrong.
        EVENT_NOT_APPLIED = "event_not_applied", "Event not applied"

    group = models.ForeignKey(CopyGroup, on_delete=models.CASCADE, related_name="incidents")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    detail = models.TextField()
    account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.SET_NULL, null=True, blank=True
    )
    copy_order = models.ForeignKey(
        CopyOrder, on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents"
    )
    occurred_at = models.DateTimeField()


class FlattenRequest(BaseModel):
    """An emergency flatten asked for in the dashboard, carried out by the
    engine worker (which holds the broker connections).

    ``group`` empty means all of ``owner``'s groups. Entries are refused as
    soon as the request is made (the routes go to level 4 in the same
    transaction); the worker then cancels working follower orders and closes
    every follower position. One open request per scope: pressing twice
    returns the open one.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"  # detail says which accounts could not be flattened

    owner = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="flatten_requests"
    )
    group = models.ForeignKey(
        CopyGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="flattens"
    )
    requested_by = models.CharField(max_length=150)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    finished_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "group"],
                condition=Q(status="pending"),
                name="uniq_pending_flatten_group",
            ),
            models.UniqueConstraint(
                fields=["owner"],
                condition=Q(status="pending", group__isnull=True),
                name="uniq_pending_flatten_all",
            ),
        ]


class PositionClose(BaseModel):
    """One follower position closed at market from the dashboard (*Close*),
    carried out like an emergency flatten by the engine worker that owns the
    group's leader, for one contract of one account.

    ``seen_qty`` is the signed position the page showed when Close was
    pressed: the worker closes only a position on the same side (never an
    opening order); a flat or reversed position is refused with the reason.
    One pending close per (account, contract).
    """

    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for the engine worker
        DONE = "done"  # closed: flat at the broker
        FAILED = "failed"  # sent, but not flat afterwards; detail says why
        REFUSED = "refused"  # nothing sent (already flat, reversed); detail says why

    owner = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="position_closes"
    )
    group = models.ForeignKey(CopyGroup, on_delete=models.CASCADE, related_name="position_closes")
    follower = models.ForeignKey(Follower, on_delete=models.CASCADE, related_name="closes")
    account = models.ForeignKey(
        "accounts.BrokerAccount", on_delete=models.CASCADE, related_name="position_closes"
    )
    symbol = models.CharField(max_length=20)
    seen_qty = models.IntegerField(help_text="Signed contracts the page showed when pressed.")
    requested_by = models.CharField(max_length=150)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    finished_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "symbol"],
                condition=Q(status="pending"),
                name="uniq_pending_position_close",
            ),
            models.CheckConstraint(condition=~Q(seen_qty=0), name="position_close_seen_not_flat"),
        ]
        indexes = [
            # The engine worker's poll for closes to carry out.
            models.Index(
                fields=["status"], name="position_close_pending", condition=Q(status="pending")
            ),
        ]


class RouteConfigVersion(models.Model):
    """The version of everything an engine worker keeps in memory about
    routes: groups, followers, risk limits, accounts, contract specs and
    mappings (``routing.services.route_state``). One row (pk 1), bumped in
    the transaction of every change to those tables (``routing.signals``),
    so a worker that reads it at the start of a leader event sees every
    change saved before the event arrived. ``token`` tells a recreated row
    (a flushed database) from the one a cache was built on."""

    token = models.UUIDField(default=uuid.uuid4)
    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"route configuration v{self.version}"


class LeaderLease(models.Model):
    """Which engine worker owns a leader: its stream, its copy decisions, its
    unsent orders and their recovery (:mod:`routing.services.leases`).

    Claimed by a conditional update when released or expired (Healthchecks'
    sendalerts), renewed every few seconds by its holder, so a dead worker's
    leaders are free within ``TTL``. ``generation`` goes up on every
    acquisition: it is the fencing token the holder's ingest checks under the
    leader's row lock, so a worker that lost the lease decides nothing more.
    """

    # A dead worker's leaders are free after at most this long (the issue asks
    # for 10 s); renewals come four times per TTL, so one slow pass loses nothing.
    TTL = timedelta(seconds=8)
    RENEW_EVERY = timedelta(seconds=2)

    leader = models.OneToOneField(
        "accounts.BrokerAccount",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="leader_lease",
    )
    worker_id = models.CharField(
        max_length=200, blank=True, help_text="The holding engine worker; empty when released."
    )
    generation = models.PositiveBigIntegerField(
        default=0, help_text="Acquisitions so far (the fencing token; 0: never held)."
    )
    acquired_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="Free for any worker from then on.")

    class Meta:
        indexes = [
            # Renewal and release: a worker's own leases.
            models.Index(fields=["worker_id"], name="leader_lease_worker"),
        ]

    def __str__(self) -> str:
        holder = self.worker_id or "nobody"
        return f"leader {self.leader_id}: {holder} (generation {self.generation})"


class EngineWorkerHeartbeat(models.Model):
    """One engine worker process, seen alive at ``seen_at`` (renewed with its
    leases); live while ``seen_at`` is within the lease TTL and it has not
    stopped. Counted for the fair share of leaders and for the health page."""

    worker_id = models.CharField(max_length=200, unique=True)
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True, help_text="A clean stop.")
    leaders = models.PositiveIntegerField(default=0, help_text="Leases held at the last beat.")
    adapters = models.JSONField(
        default=dict,
        blank=True,
        help_text='Platform -> adapter connected at the last beat, e.g. {"paper": true}.',
    )

    def __str__(self) -> str:
        return f"{self.worker_id} (seen {self.seen_at:%H:%M:%S})"


class GroupWebhook(BaseModel):
    """A copy group's TradingView-style webhook: a second leader source.

    ``token`` names the group in the webhook's URL (random, not secret on its
    own: the URL shows up in TradingView's alert settings); ``secret_hash`` is
    the SHA-256 digest of the alert secret (256 random bits,
    :mod:`routing.webhooks.settings`), so it is shown once when created or
    rotated and never stored in clear.
    A table of its own rather than columns on ``routing_copygroup``: SQLite
    rebuilds that table (and its triggers) to add a column (migration 0015).
    """

    group = models.OneToOneField(CopyGroup, on_delete=models.CASCADE, related_name="webhook")
    token = models.CharField(max_length=64, unique=True)
    secret_hash = models.CharField(max_length=256)
    enabled = models.BooleanField(default=True)
    rotated_at = models.DateTimeField(help_text="When the current secret was made.")

    def __str__(self) -> str:
        state = "on" if self.enabled else "off"
        return f"webhook of group {self.group_id} ({state})"
