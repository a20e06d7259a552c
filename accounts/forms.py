"""Forms for the account pages: login, profile and broker accounts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms

from accounts.models import BrokerAccount, User


class LoginForm(AllauthLoginForm):
    """allauth's login form (username or e-mail, then password).

    The login input keeps the id the page had before allauth (``id_username``)
    so links, password managers and the browser tests that fill it still find it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        login = self.fields["login"]
        login.label = "Username or e-mail"
        login.widget.attrs.update({"id": "id_username", "autofocus": True})


class TokenForm(forms.Form):
    """The current 6-digit code of the user's authenticator app."""

    token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class ProfileForm(forms.ModelForm):
    """The name shown beside the username; e-mail and password have their own
    pages (each change there is confirmed or re-authenticated by allauth)."""

    class Meta:
        model = User
        fields = ["first_name", "last_name"]
        labels = {"first_name": "First name", "last_name": "Last name"}


class BrokerAccountForm(forms.Form):
    """A paper broker account: the simulated exchange every install has.

    Real platforms need stored credentials, which this form does not take yet.
    """

    name = forms.CharField(max_length=100, help_text="How the account shows in your groups.")
    kind = forms.ChoiceField(
        choices=BrokerAccount.Kind.choices,
        initial=BrokerAccount.Kind.PERSONAL,
        help_text="Personal: your own money. Evaluation / funded: a prop-firm account.",
    )
    firm = forms.CharField(max_length=100, required=False, help_text="Prop firm, if any.")
    balance = forms.DecimalField(
        min_value=Decimal(0),
        max_digits=16,
        decimal_places=2,
        initial=Decimal(50_000),
        help_text="Starting balance in dollars.",
    )

    def __init__(self, *args: Any, owner: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def clean_name(self) -> str:
        """Names are unique per owner (``uniq_broker_account_owner_name``)."""
        name: str = self.cleaned_data["name"].strip()
        if BrokerAccount.objects.filter(owner=self.owner, name=name).exists():
            raise forms.ValidationError("You already have an account with this name.")
        return name
