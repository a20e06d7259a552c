"""Copy groups, followers and risk limits.

The database refuses the forbidden shapes (triggers and constraints, see
``routing/models.py``); these services check first so the user gets a clear
sentence instead of an integrity error, and journal every change.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from accounts.models import BrokerAccount, User
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record
from routing.engine.types import SizingBasis
from routing.engine.watch import plain
from routing.models import RATIO_MAX, RATIO_MIN, CopyGroup, Follower, RiskLimit


@transaction.atomic
def copy_group_create(
    *,
    owner: User,
    name: str,
    leader: BrokerAccount,
    copy_mode: str = "multiplier",
    copy_value: Decimal = Decimal(1),
    rounding: str = "entry_down_exit_up",
    sizing_mode: str = "contracts",
    auto_micro: bool = False,
    quarantine: bool = True,
    partial_exit: str = "proportional",
    actor_label: str | None = None,
    pilot_route: bool = False,
    level: int = CopyGroup.Level.ACTIVE,
) -> CopyGroup:
    """Create a route led by ``leader`` at ``level`` (0-4).

    Every way a trader makes a route starts it at 1 Test, so it copies one
    contract per follower until the trader raises it: the dashboard's
    new-group form, a pilot subscription's mirroring, the demo (raised
    right after, journaled). The default here is for tests and tools; the
    one route made at 3 Active is a subscription's watch route (a paper
    account the system makes to show what copying the pilot would do).

    Raises ``ApplicationError`` when the leader belongs to another user or
    already follows a group (no cycles). With ``pilot_route`` the leader is
    a published pilot's account, another user's by design: the caller
    (:mod:`pilots.subscriptions`) checked the subscription.
    """
    BrokerAccount.objects.select_for_update().filter(pk=leader.pk).get()
    if leader.owner_id != owner.pk and not pilot_route:
        raise ApplicationError("the leader account belongs to another user", field="leader")
    if Follower.objects.filter(account=leader).exists():
        raise ApplicationError(
            f"{leader.name} follows a group, so it cannot lead one", field="leader"
        )
    group = CopyGroup.objects.create(
        owner=owner,
        name=name,
        leader=leader,
        copy_mode=copy_mode,
        copy_value=copy_value,
        rounding=rounding,
        sizing_mode=sizing_mode,
        auto_micro=auto_micro,
        quarantine=quarantine,
        partial_exit=partial_exit,
        pilot_route=pilot_route,
        level=level,
        level_reason="a new route starts at level 1 Test" if level == CopyGroup.Level.TEST else "",
    )
    journal_record(
        owner_id=owner.pk,
        event_type=EventType.COPY_GROUP_CREATED,
        group_id=group.pk,
        account_id=leader.pk,
        actor_label=actor_label or owner.username,
        actor_user_id=owner.pk,
        # A pilot's account name stays the pilot's: the subscriber's journal
        # names the route only.
        message=(
            f"Copy group {name!r} created, following a published pilot"
            if pilot_route
            else f"Copy group {name!r} created, leader {leader.name}"
        ),
        after={
            "copy_mode": copy_mode,
            "copy_value": copy_value,
            "rounding": rounding,
            "sizing_mode": sizing_mode,
            "auto_micro": auto_micro,
            "quarantine": quarantine,
            "partial_exit": partial_exit,
            "level": level,
        },
    )
    return group


def sizing_basis_problem(
    basis: str, *, leader: BrokerAccount, account: BrokerAccount
) -> ApplicationError | None:
    """Why ``account`` cannot follow ``leader`` on sizing ``basis``, or
    ``None``: percent of balance sizes by follower balance / leader balance,
    so both must be known and above 0 (the engine would block every entry
    otherwise: better said when the setting is made)."""
    if basis not in Follower.SizingBasis.values:
        return ApplicationError(
            f"sizing basis must be one of {', '.join(Follower.SizingBasis.values)}, got {basis!r}",
            field="sizing_basis",
        )
    if basis != SizingBasis.PERCENT_OF_BALANCE.value:
        return None
    for who, held in (("leader", leader), ("follower", account)):
        if held.balance is None or held.balance <= 0:
            return ApplicationError(
                f"percent of balance sizing needs the {who} account's balance above 0 "
                f"({held.name} has ${plain(held.balance or Decimal(0))})",
                field="sizing_basis",
            )
    return None


@transaction.atomic
def follower_add(
    *,
    group: CopyGroup,
    account: BrokerAccount,
    ratio: Decimal = Decimal(1),
    sizing_basis: str = SizingBasis.RATIO.value,
    actor_label: str | None = None,
) -> Follower:
    """Add ``account`` to ``group`` as a follower with ``ratio`` (0.1-1000)
    on ``sizing_basis`` (``"ratio"``, or ``"percent_of_balance"``: also x
    follower balance / leader balance).

    Raises ``ApplicationError`` when the ratio is out of range, the account
    belongs to another user, leads a group, or already follows one, or
    percent of balance sizing lacks a balance (:func:`sizing_basis_problem`).
    """
    if not RATIO_MIN <= ratio <= RATIO_MAX:
        raise ApplicationError(
            f"ratio must be between {RATIO_MIN} and {RATIO_MAX}, got {ratio}", field="ratio"
        )
    problem = sizing_basis_problem(sizing_basis, leader=group.leader, account=account)
    if problem is not None:
        raise problem
    BrokerAccount.objects.select_for_update().filter(pk=account.pk).get()
    if account.owner_id != group.owner_id:
        raise ApplicationError("the follower account belongs to another user", field="account")
    if CopyGroup.objects.filter(leader=account).exists():
        raise ApplicationError(
            f"{account.name} leads a group, so it cannot follow one", field="account"
        )
    existing = Follower.objects.filter(account=account).select_related("group").first()
    if existing is not None:
        raise ApplicationError(
            f"{account.name} already follows {existing.group.name!r}", field="account"
        )
    follower = Follower.objects.create(
        group=group, account=account, ratio=ratio, sizing_basis=sizing_basis
    )
    on_balance = sizing_basis == SizingBasis.PERCENT_OF_BALANCE.value
    journal_record(
        owner_id=group.owner_id,
        event_type=EventType.FOLLOWER_ADDED,
        group_id=group.pk,
        account_id=account.pk,
        actor_label=actor_label or group.owner.username,
        message=f"{account.name} follows {group.name!r} at ratio {ratio}"
        + (" x its balance / the leader's (percent of balance)" if on_balance else ""),
        after={"ratio": ratio, **({"sizing_basis": sizing_basis} if on_balance else {})},
    )
    return follower


@transaction.atomic
def risk_limit_set(
    *,
    account: BrokerAccount,
    daily_loss: Decimal | None,
    max_contracts: int | None,
    actor_label: str,
) -> RiskLimit:
    """Set an account's daily loss limit (dollars) and max contracts per order.

    ``None`` removes a limit. Raises ``ApplicationError`` for values ≤ 0.
    """
    if daily_loss is not None and daily_loss <= 0:
        raise ApplicationError(
            f"daily loss limit must be > 0, got {daily_loss}", field="daily_loss"
        )
    if max_contracts is not None and max_contracts <= 0:
        raise ApplicationError(
            f"max contracts must be > 0, got {max_contracts}", field="max_contracts"
        )
    limit, _ = RiskLimit.objects.select_for_update().get_or_create(account=account)
    before = {"daily_loss": limit.daily_loss, "max_contracts": limit.max_contracts}
    limit.daily_loss = daily_loss
    limit.max_contracts = max_contracts
    limit.save(update_fields=["daily_loss", "max_contracts", "updated_at"])
    journal_record(
        owner_id=account.owner_id,
        event_type=EventType.RISK_LIMIT_CHANGED,
        account_id=account.pk,
        actor_label=actor_label,
        message=f"Risk limits of {account.name} set",
        before=before,
        after={"daily_loss": daily_loss, "max_contracts": max_contracts},
    )
    return limit
