"""Publishing pilots, plans, and following pilots under a plan (issue 11).

Every rule is checked here, server-side, with a sentence the user can act
on (``ApplicationError``), and every change is journaled in the journal of
the user it belongs to: a subscriber's subscriptions never reach the
pilot's journal (a pilot sees how many follow them, never who).

Rules (issue 11, "Subscriptions and plans"):

- monthly and yearly plans follow one pilot at a time, a lifetime plan
  several (:attr:`pilots.models.Plan.max_pilots`), each subscription with
  its own caps (the risk limits of the account it mirrors into);
- a subscription starts with a 14-day watch period (:data:`WATCH_PERIOD`)
  before mirroring can be switched on; meanwhile the pilot is mirrored on
  paper through the real engine (:mod:`pilots.watch`);
- mirroring goes into the subscriber's *personal* accounts only: prop firms
  forbid copying another person's trades in an evaluation or funded account
  (e.g. Topstep's and Apex's terms on third-party trade copying).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction

from accounts.models import BrokerAccount, User
from copytrade.core.actors import actor_note
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record
from pilots.models import Pilot, Plan, Subscription, UserPlan
from pilots.selectors import OPEN
from pilots.watch import watch_route_open, watch_route_pause
from routing.models import CopyGroup, Follower
from routing.services.copy_groups import copy_group_create, follower_add
from routing.services.group_rules import copy_group_pause

WATCH_PERIOD = timedelta(days=14)


def plan_ends_at(term: str, started_at: datetime) -> datetime | None:
    """When a plan of ``term`` picked at ``started_at`` ends: one calendar
    month later (the same day, or the month's last day: Jan 31 -> Feb 28),
    one calendar year later (Feb 29 -> Feb 28), never for a lifetime plan.
    Raises ``ValueError`` for an unknown term."""
    if term == Plan.Term.LIFETIME:
        return None
    if term == Plan.Term.MONTHLY:
        year, month = divmod(started_at.month, 12)
        year, month = started_at.year + year, month + 1
    elif term == Plan.Term.YEARLY:
        year, month = started_at.year + 1, started_at.month
    else:
        raise ValueError(f"unknown plan term {term!r}")
    day = min(started_at.day, calendar.monthrange(year, month)[1])
    return started_at.replace(year=year, month=month, day=day)


def user_plan_problem(*, user: User, plan: Plan) -> str | None:
    """Why ``user`` may not hold ``plan`` now (they follow more pilots than
    it allows), or ``None``. Reads only."""
    following = Subscription.objects.filter(subscriber=user, status__in=OPEN).count()
    if following <= plan.max_pilots:
        return None
    return (
        f"the {plan.name} plan follows {_pilots(plan.max_pilots)} at a time and "
        f"{user.username} follows {following}: end {following - plan.max_pilots} "
        "subscription(s) first"
    )


@transaction.atomic
def user_plan_set(
    *, user: User, plan: Plan, at: datetime, actor: User, reason: str = ""
) -> UserPlan:
    """Give ``user`` ``plan`` from aware ``at`` (replacing the plan they
    held), journaled with ``actor`` and ``reason`` (staff give one in the
    admin). Raises ``ApplicationError`` when the user follows more pilots
    than the plan allows (end some first)."""
    reason = reason.strip()
    User.objects.select_for_update().filter(pk=user.pk).get()
    problem = user_plan_problem(user=user, plan=plan)
    if problem is not None:
        raise ApplicationError(problem, field="plan")
    before = UserPlan.objects.filter(user=user).select_related("plan").first()
    held, _ = UserPlan.objects.update_or_create(
        user=user,
        defaults={"plan": plan, "started_at": at, "ends_at": plan_ends_at(plan.term, at)},
    )
    journal_record(
        owner_id=user.pk,
        event_type=EventType.PLAN_CHANGED,
        actor_user_id=actor.pk,
        actor_label=actor.username,
        occurred_at=at,
        message=f"Plan set to {plan.name}{actor_note(actor, user.pk, reason)}",
        before={"plan": before.plan.name} if before else None,
        after={"plan": plan.name, "ends_at": held.ends_at},
        extra_data={"reason": reason} if reason else None,
    )
    return held


@transaction.atomic
def pilot_publish(
    *,
    owner: User,
    account: BrokerAccount,
    display_name: str,
    markets: Sequence[str],
    nominal_balance: Decimal,
    at: datetime,
) -> Pilot:
    """Publish ``account`` (one of ``owner``'s leader accounts) as a pilot
    from aware ``at``: only its fills after ``at`` will count toward rank.

    Raises ``ApplicationError`` for another user's account, an account that
    follows a group (its trades are copies, not its own), one already
    published, a display name taken, or a nominal size that is not positive.
    """
    BrokerAccount.objects.select_for_update().filter(pk=account.pk).get()
    if account.owner_id != owner.pk:
        raise ApplicationError("the account belongs to another user", field="account")
    if Follower.objects.filter(account=account).exists():
        raise ApplicationError(
            f"{account.name} follows a group: a pilot publishes its own trades, not copies",
            field="account",
        )
    if Pilot.objects.filter(account=account).exists():
        raise ApplicationError(f"{account.name} is published already", field="account")
    if nominal_balance <= 0:
        raise ApplicationError(
            f"the nominal account size must be more than $0, got {nominal_balance}",
            field="nominal_balance",
        )
    name = display_name.strip()
    if not name:
        raise ApplicationError("a pilot needs a display name", field="display_name")
    if Pilot.objects.filter(display_name__iexact=name).exists():
        raise ApplicationError(f"the name {name!r} is taken", field="display_name")
    pilot = Pilot.objects.create(
        owner=owner,
        account=account,
        display_name=name,
        markets=sorted({m.strip().upper() for m in markets if m.strip()}),
        nominal_balance=nominal_balance,
        published_at=at,
    )
    journal_record(
        owner_id=owner.pk,
        event_type=EventType.PILOT_PUBLISHED,
        account_id=account.pk,
        actor_user_id=owner.pk,
        actor_label=owner.username,
        occurred_at=at,
        message=f"{account.name} published as pilot {name!r} (nominal ${nominal_balance:,})",
        after={"display_name": name, "markets": pilot.markets, "nominal": nominal_balance},
    )
    return pilot


@transaction.atomic
def subscription_start(
    *, subscriber: User, pilot: Pilot, at: datetime, watch_balance: Decimal | None = None
) -> Subscription:
    """Follow ``pilot`` from aware ``at``, watching for :data:`WATCH_PERIOD`:
    the pilot is mirrored into a paper account of ``watch_balance`` dollars
    (default the pilot's nominal size) through the engine
    (:func:`pilots.watch.watch_route_open`).

    Raises ``ApplicationError`` for one's own pilot, a rejected pilot, no
    plan or an ended one, a plan already following as many pilots as it
    allows, or a pilot followed already.
    """
    # One user's subscriptions start one at a time: the plan's count holds.
    User.objects.select_for_update().filter(pk=subscriber.pk).get()
    if pilot.owner_id == subscriber.pk:
        raise ApplicationError("you cannot follow your own pilot", field="pilot")
    if pilot.review == Pilot.Review.REJECTED:
        raise ApplicationError(f"{pilot.display_name} is not open to followers", field="pilot")
    held = UserPlan.objects.filter(user=subscriber).select_related("plan").first()
    if held is None:
        raise ApplicationError("choose a plan before following a pilot", field="plan")
    if held.ends_at is not None and held.ends_at <= at:
        raise ApplicationError(
            f"your {held.plan.name} plan ended on {held.ends_at:%Y-%m-%d}: choose a plan again",
            field="plan",
        )
    following = list(
        Subscription.objects.filter(subscriber=subscriber, status__in=OPEN).select_related("pilot")
    )
    if any(s.pilot_id == pilot.pk for s in following):
        raise ApplicationError(f"you follow {pilot.display_name} already", field="pilot")
    if len(following) >= held.plan.max_pilots:
        names = ", ".join(sorted(s.pilot.display_name for s in following))
        raise ApplicationError(
            f"your {held.plan.name} plan follows {_pilots(held.plan.max_pilots)} at a time and "
            f"you follow {names}: end a subscription or choose a plan that follows more",
            field="plan",
        )
    subscription = Subscription.objects.create(
        subscriber=subscriber, pilot=pilot, started_at=at, watch_ends_at=at + WATCH_PERIOD
    )
    if watch_balance is not None and watch_balance < 0:
        raise ApplicationError(
            f"the watch balance must be $0 or more, got {watch_balance}", field="watch_balance"
        )
    watch_route_open(subscription=subscription, balance=watch_balance)
    journal_record(
        owner_id=subscriber.pk,
        event_type=EventType.SUBSCRIPTION_STARTED,
        actor_user_id=subscriber.pk,
        actor_label=subscriber.username,
        occurred_at=at,
        message=(
            f"Following pilot {pilot.display_name}: watching until "
            f"{subscription.watch_ends_at:%Y-%m-%d %H:%M} UTC, then mirroring can be switched on"
        ),
        extra_data={"subscription": subscription.pk, "pilot": pilot.pk},
    )
    return subscription


@transaction.atomic
def subscription_mirror(
    *, subscription: Subscription, account: BrokerAccount, ratio: Decimal, at: datetime
) -> CopyGroup:
    """Switch mirroring on: from aware ``at`` the pilot's trades are copied
    into ``account`` (the subscriber's personal account) at ``ratio``,
    through a copy group the subscriber owns, led by the pilot's account
    (the engine and risk checks of any copy group; the account's risk
    limits are this subscription's caps). Returns the group.

    Raises ``ApplicationError`` before the watch period ends, for an ended
    or already mirroring subscription, another user's account, an
    evaluation or funded account (prop firms forbid copying another
    person's trades), or an account that leads or follows a group.
    """
    subscription = _locked(subscription)
    subscriber, pilot = subscription.subscriber, subscription.pilot
    if subscription.status != Subscription.Status.WATCHING:
        raise ApplicationError(
            f"this subscription is {subscription.status}: mirroring cannot be switched on",
            field="subscription",
        )
    if at < subscription.watch_ends_at:
        raise ApplicationError(
            f"the watch period runs until {subscription.watch_ends_at:%Y-%m-%d %H:%M} UTC: "
            "see how the pilot's trades would have gone first",
            field="subscription",
        )
    if account.owner_id != subscriber.pk:
        raise ApplicationError("the account belongs to another user", field="account")
    if account.kind != BrokerAccount.Kind.PERSONAL:
        raise ApplicationError(
            f"{account.name} is a{'n' if account.kind[0] in 'aeiou' else ''} {account.kind} "
            "prop-firm account: prop firms forbid copying another person's trades, so a "
            "pilot is mirrored into personal accounts only",
            field="account",
        )
    taken = CopyGroup.objects.filter(owner=subscriber, name=f"Pilot {pilot.display_name}")
    group = copy_group_create(
        owner=subscriber,
        # Following a pilot again after ending: the first route keeps its name.
        name=f"Pilot {pilot.display_name}" + (f" #{subscription.pk}" if taken.exists() else ""),
        leader=pilot.account,
        actor_label=subscriber.username,
        pilot_route=True,
        # A route into a real account starts like every new route: one
        # contract per follower until the subscriber raises the level.
        level=CopyGroup.Level.TEST,
    )
    # follower_add refuses an account that leads or follows a group.
    follower_add(group=group, account=account, ratio=ratio, actor_label=subscriber.username)
    # The paper copy has done its job; its open positions still close.
    watch_route_pause(subscription=subscription)
    subscription.status = Subscription.Status.MIRRORING
    subscription.group = group
    subscription.save(update_fields=["status", "group", "updated_at"])
    journal_record(
        owner_id=subscriber.pk,
        event_type=EventType.SUBSCRIPTION_MIRRORING,
        group_id=group.pk,
        account_id=account.pk,
        actor_user_id=subscriber.pk,
        actor_label=subscriber.username,
        occurred_at=at,
        message=f"Mirroring pilot {pilot.display_name} into {account.name} at ratio {ratio}",
        extra_data={"subscription": subscription.pk, "pilot": pilot.pk},
    )
    return group


@transaction.atomic
def subscription_end(*, subscription: Subscription, at: datetime) -> bool:
    """Stop following: the subscription ends at aware ``at`` and its copy
    group (if mirroring) and its watch route are paused, so no new entry is
    copied while the pilot's exits still close what was opened. False when
    it had ended."""
    subscription = _locked(subscription)
    if subscription.status == Subscription.Status.ENDED:
        return False
    subscriber = subscription.subscriber
    if subscription.group is not None:
        copy_group_pause(group=subscription.group, actor=subscriber)
    watch_route_pause(subscription=subscription)
    subscription.status = Subscription.Status.ENDED
    subscription.ended_at = at
    subscription.save(update_fields=["status", "ended_at", "updated_at"])
    journal_record(
        owner_id=subscriber.pk,
        event_type=EventType.SUBSCRIPTION_ENDED,
        group_id=subscription.group_id,
        actor_user_id=subscriber.pk,
        actor_label=subscriber.username,
        occurred_at=at,
        message=(
            f"Stopped following pilot {subscription.pilot.display_name}"
            + ("; its route is paused: exits are still copied" if subscription.group else "")
        ),
        extra_data={"subscription": subscription.pk, "pilot": subscription.pilot_id},
    )
    return True


def _locked(subscription: Subscription) -> Subscription:
    """``subscription``'s row read again and locked (only its own row: the
    pilot, subscriber and group come with it, unlocked) until the caller's
    transaction ends, so two changes of one subscription apply in turn."""
    return (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("pilot", "pilot__account", "subscriber", "group")
        .get(pk=subscription.pk)
    )


def _pilots(n: int) -> str:
    return "1 pilot" if n == 1 else f"{n} pilots"
