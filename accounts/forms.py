"""Forms for the account pages: login, profile and broker accounts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from allauth.account.forms import LoginForm as AllauthLoginForm
from django import forms

from accounts.models import BrokerAccount, BrokerLogin, User
from accounts.platforms import credential_fields


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
    Accounts at real platforms are added under a broker login
    (:class:`LoginAccountForm`)."""

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


ENVIRONMENT_CHOICES = [(e.value, e.label) for e in BrokerLogin.Environment]


class BrokerLoginForm(forms.Form):
    """A broker login at one platform: label, environment and the
    platform's own credential fields (:mod:`accounts.platforms`).

    Secret fields are password inputs that never render a value back; on
    an edit (``editing=True``) a secret left blank keeps the stored value.
    The service checks everything again (:mod:`accounts.logins`).
    """

    label = forms.CharField(max_length=100, help_text="How this login shows on your pages.")
    environment = forms.ChoiceField(
        choices=ENVIRONMENT_CHOICES,
        initial=BrokerLogin.Environment.DEMO,
        help_text="Demo: the platform's simulated environment. Live: real money.",
    )

    def __init__(self, *args: Any, platform: str, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.platform = platform
        self.credential_names: list[str] = []
        for spec in credential_fields(platform):
            field: forms.Field
            if spec.kind == "int":
                field = forms.IntegerField(
                    min_value=spec.min_value, max_value=spec.max_value, required=spec.required
                )
            elif spec.secret:
                # render_value=False: a stored or a mistyped secret never
                # comes back in the page.
                field = forms.CharField(
                    max_length=500,
                    required=spec.required and not editing,
                    strip=False,  # a secret is kept as typed
                    widget=forms.PasswordInput(
                        render_value=False, attrs={"autocomplete": "new-password"}
                    ),
                )
                if editing:
                    spec_help = "Leave blank to keep the stored value."
                    field.help_text = f"{spec.help_text} {spec_help}".strip()
            else:
                field = forms.CharField(
                    max_length=200,
                    required=spec.required,
                    widget=forms.TextInput(attrs={"autocomplete": "off"}),
                )
            field.label = spec.label
            if not field.help_text:
                field.help_text = spec.help_text
            self.fields[spec.name] = field
            self.credential_names.append(spec.name)

    def credentials(self) -> dict[str, str]:
        """The credential fields as text (after ``is_valid()``)."""
        values = {}
        for name in self.credential_names:
            value = self.cleaned_data.get(name)
            values[name] = "" if value is None else str(value)
        return values


class LoginAccountForm(forms.Form):
    """An account under a broker login: its name here, its id at the
    platform, kind, firm and starting balance."""

    name = forms.CharField(max_length=100, help_text="How the account shows in your groups.")
    external_id = forms.CharField(
        max_length=100,
        label="Account id at the platform",
        help_text="As the platform names it (e.g. the account number).",
    )
    kind = forms.ChoiceField(
        choices=BrokerAccount.Kind.choices, initial=BrokerAccount.Kind.PERSONAL
    )
    firm = forms.CharField(max_length=100, required=False, help_text="Prop firm, if any.")
    starting_balance = forms.DecimalField(
        min_value=Decimal(0),
        max_digits=16,
        decimal_places=2,
        help_text="Dollars: the account's size (the drawdown floor is measured from it).",
    )


class AccountEditForm(LoginAccountForm):
    """An account's edit form; a paper account has no id at the platform."""

    def __init__(self, *args: Any, paper: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if paper:
            del self.fields["external_id"]
