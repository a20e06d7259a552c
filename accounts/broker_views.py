"""The broker accounts page: a user's broker logins (credentials stored
encrypted, never shown again) and every account, paper ones included, with
its connection, today's PnL and the room left before its loss limits; and
the forms that add, edit, disable and remove them.

Every page reads the user's own rows only: another user's id is a 404.
Every change is a POST behind Django's CSRF check. Connecting or changing a
login's credentials needs a recent re-authentication (:mod:`accounts.reauth`).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts.broker_accounts import (
    broker_account_add,
    broker_account_enabled_set,
    broker_account_remove,
    broker_account_update,
)
from accounts.credentials import CredentialKeyError, credentials_public
from accounts.forms import AccountEditForm, BrokerAccountForm, BrokerLoginForm, LoginAccountForm
from accounts.logins import (
    broker_login_create,
    broker_login_enabled_set,
    broker_login_remove,
    broker_login_update,
)
from accounts.models import BrokerAccount, BrokerLogin, User
from accounts.overview import account_for_user, accounts_overview, login_for_user, logins_for_user
from accounts.reauth import credentials_reauthentication_required
from copytrade.core.errors import ApplicationError

LOGIN_PLATFORMS = [
    (value, label)
    for value, label in BrokerAccount.Platform.choices
    if value != BrokerAccount.Platform.PAPER
]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _own_login(request: HttpRequest, login_id: int) -> BrokerLogin:
    login = login_for_user(_user(request), login_id)
    if login is None:
        raise Http404("No such login.")
    return login


def _own_account(request: HttpRequest, account_id: int) -> BrokerAccount:
    account = account_for_user(_user(request), account_id)
    if account is None:
        raise Http404("No such account.")
    return account


def _form_error(
    form: Form, exc: ApplicationError, *, renamed: dict[str, str] | None = None
) -> None:
    """Show ``exc`` under its field (``renamed`` maps a service's argument to
    the form's field name), or above the form when the form has no such field."""
    field = (renamed or {}).get(exc.field or "", exc.field)
    form.add_error(field if field in form.fields else None, exc.message)


def _enabled_flag(request: HttpRequest) -> bool:
    value = request.POST.get("enabled")
    if value not in ("0", "1"):
        raise BadRequest("enabled must be 0 or 1")
    return value == "1"


@login_required
@require_http_methods(["GET", "POST"])
def broker_accounts(request: HttpRequest) -> HttpResponse:
    """GET the user's logins and accounts and the paper form; POST adds a
    paper account."""
    user = _user(request)
    form = BrokerAccountForm(request.POST or None, owner=user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account = broker_account_add(
                owner=user,
                name=data["name"],
                kind=data["kind"],
                firm=data["firm"],
                starting_balance=data["balance"],
            )
        except ApplicationError as exc:
            _form_error(form, exc, renamed={"starting_balance": "balance"})
        else:
            messages.success(request, f"Added {account.name}.")
            return redirect("broker_accounts")
    rows = accounts_overview(user, at=timezone.now())
    context = {"form": form, "logins": logins_for_user(user), "rows": rows, "accounts": bool(rows)}
    return render(request, "accounts/broker_accounts.html", context)


@login_required
@require_http_methods(["GET"])
def login_platform(request: HttpRequest) -> HttpResponse:
    """GET: choose the platform of a new login."""
    return render(request, "accounts/login_platform.html", {"platforms": LOGIN_PLATFORMS})


@credentials_reauthentication_required
@require_http_methods(["GET", "POST"])
def login_create(request: HttpRequest, platform: str) -> HttpResponse:
    """GET the connect form of ``platform``; POST stores the login."""
    if platform not in dict(LOGIN_PLATFORMS):
        raise Http404("No such platform.")
    form = BrokerLoginForm(request.POST or None, platform=platform)
    if request.method == "POST":
        if form.is_valid():
            try:
                login = broker_login_create(
                    owner=_user(request),
                    platform=platform,
                    label=form.cleaned_data["label"],
                    environment=form.cleaned_data["environment"],
                    credentials=form.credentials(),
                )
            except ApplicationError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"Login {login.label} saved.")
                return redirect("broker_accounts")
        status = 400
    else:
        status = 200
    context = {
        "form": form,
        "platform_label": BrokerAccount.Platform(platform).label,
        "login": None,
    }
    return render(request, "accounts/login_form.html", context, status=status)


@credentials_reauthentication_required
@require_http_methods(["GET", "POST"])
def login_edit(request: HttpRequest, login_id: int) -> HttpResponse:
    """GET the login's form (secrets blank); POST saves it (a blank secret
    keeps the stored one)."""
    login = _own_login(request, login_id)
    initial = {"label": login.label, "environment": login.environment}
    key_error = None
    if request.method == "GET":
        try:
            initial |= credentials_public(login)
        except CredentialKeyError as exc:
            key_error = exc
    form = BrokerLoginForm(
        request.POST or None, platform=login.platform, editing=True, initial=initial
    )
    if key_error is not None:
        form.add_error(None, key_error.message)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                broker_login_update(
                    login=login,
                    label=form.cleaned_data["label"],
                    environment=form.cleaned_data["environment"],
                    credentials=form.credentials(),
                )
            except ApplicationError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"Login {form.cleaned_data['label']} saved.")
                return redirect("broker_accounts")
        status = 400
    context = {"form": form, "platform_label": login.get_platform_display(), "login": login}
    return render(request, "accounts/login_form.html", context, status=status)


@login_required
@require_POST
def login_enabled(request: HttpRequest, login_id: int) -> HttpResponse:
    """POST ``enabled`` 1 or 0: enable or disable the login."""
    login = broker_login_enabled_set(
        login=_own_login(request, login_id), enabled=_enabled_flag(request)
    )
    messages.success(request, f"Login {login.label} {'enabled' if login.enabled else 'disabled'}.")
    return redirect("broker_accounts")


@login_required
@require_POST
def login_remove(request: HttpRequest, login_id: int) -> HttpResponse:
    """POST: delete the login (refused while accounts use it)."""
    login = _own_login(request, login_id)
    try:
        broker_login_remove(login=login)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Login {login.label} removed.")
    return redirect("broker_accounts")


@login_required
@require_http_methods(["GET", "POST"])
def login_account_add(request: HttpRequest, login_id: int) -> HttpResponse:
    """GET the form of an account under the login; POST adds it."""
    login = _own_login(request, login_id)
    form = LoginAccountForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                account = broker_account_add(owner=_user(request), login=login, **form.cleaned_data)
            except ApplicationError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"Added {account.name} under {login.label}.")
                return redirect("broker_accounts")
        status = 400
    context = {"form": form, "login": login, "account": None}
    return render(request, "accounts/account_form.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def account_edit(request: HttpRequest, account_id: int) -> HttpResponse:
    """GET the account's form; POST saves it."""
    account = _own_account(request, account_id)
    paper = account.login_id is None
    initial = {
        "name": account.name,
        "external_id": account.external_id,
        "kind": account.kind,
        "firm": account.firm,
        "starting_balance": account.starting_balance,
    }
    form = AccountEditForm(request.POST or None, paper=paper, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                broker_account_update(account=account, **form.cleaned_data)
            except ApplicationError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"{form.cleaned_data['name']} saved.")
                return redirect("broker_accounts")
        status = 400
    context = {"form": form, "login": account.login, "account": account}
    return render(request, "accounts/account_form.html", context, status=status)


@login_required
@require_POST
def account_enabled(request: HttpRequest, account_id: int) -> HttpResponse:
    """POST ``enabled`` 1 or 0: enable or disable the account."""
    account = broker_account_enabled_set(
        account=_own_account(request, account_id), enabled=_enabled_flag(request)
    )
    messages.success(request, f"{account.name} {'enabled' if account.enabled else 'disabled'}.")
    return redirect("broker_accounts")


@login_required
@require_POST
def account_remove(request: HttpRequest, account_id: int) -> HttpResponse:
    """POST: delete the account (refused with the reason when it is in use
    or has history: disable it instead)."""
    account = _own_account(request, account_id)
    try:
        broker_account_remove(account=account)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{account.name} removed.")
    return redirect("broker_accounts")
