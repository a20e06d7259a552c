"""Following pages: plans, my subscriptions (with the watch period's paper
trades), switching mirroring on, ending, publishing a pilot and "your
pilots". Views parse, call a service or read, and render; the rules live in
:mod:`pilots.subscriptions` and their refusals are shown as they are worded
there. Another user's subscription is a 404, never a 403 (its existence
stays private)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from copytrade.core.errors import ApplicationError
from pilots.forms import MirrorForm, PlanPickForm, PublishForm
from pilots.models import Pilot, Plan, Subscription, UserPlan
from pilots.selectors import pilot_follower_count
from pilots.subscriptions import (
    pilot_publish,
    subscription_end,
    subscription_mirror,
    user_plan_set,
)
from pilots.watch import WatchTrade, watch_account, watch_trades
from routing.models import Follower

# Open subscriptions first, then the ended ones.
_STATUS_ORDER = {Subscription.Status.WATCHING: 0, Subscription.Status.MIRRORING: 1}


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


@login_required
@require_http_methods(["GET", "POST"])
def plans(request: HttpRequest) -> HttpResponse:
    """GET the plans and the user's own; POST picks one (no charge: payment
    is out of scope, issue 11). A plan the user's subscriptions exceed is
    refused with the service's sentence."""
    user = _user(request)
    form = PlanPickForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        plan: Plan = form.cleaned_data["plan"]
        try:
            held = user_plan_set(user=user, plan=plan, at=timezone.now(), actor=user)
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            ends = f" until {held.ends_at:%Y-%m-%d %H:%M} UTC" if held.ends_at else " for good"
            messages.success(request, f"You are on the {plan.name} plan{ends}.")
            return redirect("plans")
    held = UserPlan.objects.filter(user=user).select_related("plan").first()
    now = timezone.now()
    running = held is not None and (held.ends_at is None or held.ends_at > now)
    context = {
        "plans": Plan.objects.order_by("max_pilots", "name"),
        "held": held,
        # An ended plan can be picked again (it starts over).
        "current_plan_id": held.plan_id if held is not None and running else None,
        "form": form,
        "now": now,
    }
    return render(request, "pilots/follow/plans.html", context)


@dataclass
class _Row:
    """One subscription on the page, with what the page shows about it."""

    subscription: Subscription
    trades: list[WatchTrade]
    watch_account: Any
    mirror_into: Follower | None
    can_mirror: bool
    form: MirrorForm | None


def _rows(user: User, bound: dict[int, MirrorForm] | None = None) -> list[_Row]:
    now = timezone.now()
    subscriptions = sorted(
        Subscription.objects.filter(subscriber=user).select_related("pilot", "group"),
        key=lambda s: (_STATUS_ORDER.get(s.status, 2), -s.started_at.timestamp(), -s.pk),
    )
    rows = []
    for subscription in subscriptions:
        watching = subscription.status == Subscription.Status.WATCHING
        form = (bound or {}).get(subscription.pk) or (MirrorForm(owner=user) if watching else None)
        mirror_into = None
        if subscription.group_id is not None:
            mirror_into = (
                Follower.objects.filter(group_id=subscription.group_id)
                .select_related("account")
                .first()
            )
        rows.append(
            _Row(
                subscription=subscription,
                trades=watch_trades(subscription),
                watch_account=watch_account(subscription),
                mirror_into=mirror_into,
                can_mirror=watching and now >= subscription.watch_ends_at,
                form=form,
            )
        )
    return rows


def _render_subscriptions(
    request: HttpRequest, bound: dict[int, MirrorForm] | None = None, status: int = 200
) -> HttpResponse:
    context = {"rows": _rows(_user(request), bound)}
    return render(request, "pilots/follow/subscriptions.html", context, status=status)


@login_required
def subscriptions(request: HttpRequest) -> HttpResponse:
    """The user's subscriptions: status, the watch period's end, and per
    pilot trade since the watch started what mirroring would have done."""
    return _render_subscriptions(request)


def _subscription_or_404(request: HttpRequest, subscription_id: int) -> Subscription:
    subscription = (
        Subscription.objects.filter(pk=subscription_id, subscriber=_user(request))
        .select_related("pilot")
        .first()
    )
    if subscription is None:
        raise Http404("No such subscription")
    return subscription


@login_required
@require_POST
def subscription_mirror_view(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """POST: switch mirroring on into the chosen account at the ratio; the
    service's refusal (watch period, prop account…) shows on the form."""
    subscription = _subscription_or_404(request, subscription_id)
    user = _user(request)
    form = MirrorForm(request.POST, owner=user)
    if form.is_valid():
        try:
            subscription_mirror(
                subscription=subscription,
                account=form.cleaned_data["account"],
                ratio=form.cleaned_data["ratio"],
                at=timezone.now(),
            )
        except ApplicationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except IntegrityError:
            form.add_error(None, "Another change to your groups got there first; submit again.")
        else:
            messages.success(
                request,
                f"Mirroring {subscription.pilot.display_name} into "
                f"{form.cleaned_data['account'].name}, at level 1 Test: one contract a trade "
                "until you raise the level on the route's pre-session check.",
            )
            return redirect("subscriptions")
    return _render_subscriptions(request, bound={subscription.pk: form}, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def subscription_end_view(request: HttpRequest, subscription_id: int) -> HttpResponse:
    """GET asks for confirmation; POST ends the subscription (its routes are
    paused: the pilot's exits still close what was opened)."""
    subscription = _subscription_or_404(request, subscription_id)
    if request.method == "POST":
        if subscription_end(subscription=subscription, at=timezone.now()):
            messages.success(request, f"You no longer follow {subscription.pilot.display_name}.")
        return redirect("subscriptions")
    return render(request, "pilots/follow/end_confirm.html", {"subscription": subscription})


@login_required
@require_http_methods(["GET", "POST"])
def publish(request: HttpRequest) -> HttpResponse:
    """GET the form; POST publishes one of the user's leader accounts as a
    pilot (only its fills from now on count toward rank)."""
    user = _user(request)
    form = PublishForm(request.POST or None, owner=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            pilot = pilot_publish(
                owner=user,
                account=data["account"],
                display_name=data["display_name"],
                markets=data["markets"],
                nominal_balance=data["nominal_balance"],
                at=timezone.now(),
            )
        except ApplicationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except IntegrityError:
            # Two publishes of one name or account at once: the constraint decides.
            form.add_error(None, "That name or account was published meanwhile; try again.")
        else:
            messages.success(request, f"{pilot.display_name} is published and waits for review.")
            return redirect("my_pilots")
    return render(request, "pilots/follow/publish.html", {"form": form})


@login_required
def my_pilots(request: HttpRequest) -> HttpResponse:
    """The user's published pilots: review outcome and note, how many follow
    (never who), and the record's flags when it is flagged."""
    pilots = list(
        Pilot.objects.filter(owner=_user(request))
        .select_related("account", "record")
        .order_by("published_at", "pk")
    )
    rows = []
    for pilot in pilots:
        record = getattr(pilot, "record", None)
        rows.append(
            {
                "pilot": pilot,
                "followers": pilot_follower_count(pilot),
                "record": record,
                "flags": (record.data.get("flags", []) if record and record.flagged else []),
            }
        )
    return render(request, "pilots/follow/my_pilots.html", {"rows": rows})
