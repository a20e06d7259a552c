"""Account pages: the profile and the user's broker accounts. Sign-up, login,
e-mail and password pages are django-allauth's (``copytrade.urls``)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.forms import BrokerAccountForm, ProfileForm
from accounts.models import BrokerAccount, User
from accounts.selectors import broker_accounts_for_user, email_addresses_for_user
from accounts.services import broker_account_create
from copytrade.core.errors import ApplicationError


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """GET the profile; POST saves the name. E-mail and password link to
    allauth's pages, which confirm a new address before it counts."""
    user: User = request.user  # type: ignore[assignment]
    form = ProfileForm(request.POST or None, instance=user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Profile saved.")
        return redirect("profile")
    context = {"form": form, "emails": email_addresses_for_user(user)}
    return render(request, "accounts/profile.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def broker_accounts(request: HttpRequest) -> HttpResponse:
    """GET the user's broker accounts and the add form; POST adds a paper account."""
    user: User = request.user  # type: ignore[assignment]
    form = BrokerAccountForm(request.POST or None, owner=user)
    if request.method == "POST" and form.is_valid():
        try:
            account = broker_account_create(
                owner=user,
                platform=BrokerAccount.Platform.PAPER,
                **form.cleaned_data,
            )
        except ApplicationError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except IntegrityError:
            # Two submits of one name at once: the unique constraint decides.
            form.add_error("name", "You already have an account with this name.")
        else:
            messages.success(request, f"Added {account.name}.")
            return redirect("broker_accounts")
    context = {"form": form, "accounts": broker_accounts_for_user(user)}
    return render(request, "accounts/broker_accounts.html", context)
