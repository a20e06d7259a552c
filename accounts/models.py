"""Users and broker accounts."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from copytrade.core.models import ZERO, BaseModel, money_field
from routing.brokers.logins import ConnectionState as LoginConnectionState
from routing.brokers.logins import Environment as LoginEnvironment


class User(AbstractUser):
    """A Copytrade user. ``feed_seq`` numbers the user's live-feed messages.

    Every message pushed to the user's websocket carries the next value, so
    the page can tell when the (at-most-once) channel layer dropped one and
    re-read the snapshot.
    """

    feed_seq = models.BigIntegerField(default=0)


class BrokerAccount(BaseModel):
    """One account at a broker or prop firm (DESIGN.md, Broker account)."""

    class Platform(models.TextChoices):
        PAPER = "paper", "Paper (simulated)"
        PROJECTX = "projectx", "ProjectX"
        RITHMIC = "rithmic", "Rithmic"
        TRADOVATE = "tradovate", "Tradovate"
        IB = "ib", "Interactive Brokers"

    class Kind(models.TextChoices):
        PERSONAL = "personal"  # the user's own money; may follow published pilots
        EVALUATION = "evaluation"  # a prop-firm challenge account
        FUNDED = "funded"  # a prop-firm funded account

    owner = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="broker_accounts"
    )
    name = models.CharField(max_length=100)
    platform = models.CharField(max_length=20, choices=Platform.choices, default=Platform.PAPER)
    external_id = models.CharField(max_length=100, help_text="The account id at the broker.")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PERSONAL)
    firm = models.CharField(max_length=100, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    starting_balance = money_field(default=ZERO)
    balance = money_field(default=ZERO)
    # The credentials the engine worker uses for this account (paper: none).
    login = models.ForeignKey(
        "accounts.BrokerLogin",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="accounts",
    )
    # A disabled account is left out of its login's accounts handed to the
    # engine worker (accounts.credentials.login_configs).
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"], name="uniq_broker_account_owner_name"
            ),
            models.UniqueConstraint(
                fields=["platform", "external_id"], name="uniq_broker_account_platform_external_id"
            ),
            models.CheckConstraint(
                condition=Q(starting_balance__gte=0), name="broker_account_starting_balance_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class BrokerLogin(BaseModel):
    """One set of credentials at a platform, serving many broker accounts
    (:mod:`routing.brokers.logins`).

    ``identity`` is the non-secret identifier pages show (the user name; for
    IB ``host:port/client_id``). ``secret`` is a MultiFernet token of the
    JSON of the platform's credential fields (:mod:`accounts.credentials`):
    the database never holds a credential in clear, and this model's
    ``repr``/``str`` never show it. The ``connection_*`` and ``budget_*``
    columns are written by the engine worker
    (:func:`accounts.logins.login_states_record`).
    """

    Environment = models.TextChoices("Environment", [(e.name, e.value) for e in LoginEnvironment])

    class ConnectionState(models.TextChoices):
        UNKNOWN = "unknown"  # no engine worker has reported on it yet
        CONNECTING = LoginConnectionState.CONNECTING.value
        CONNECTED = LoginConnectionState.CONNECTED.value
        DOWN = LoginConnectionState.DOWN.value  # lost; the adapter reconnects
        FAILED = LoginConnectionState.FAILED.value  # refused: the trader must act

    owner = models.ForeignKey(
        "accounts.User", on_delete=models.CASCADE, related_name="broker_logins"
    )
    platform = models.CharField(
        max_length=20,
        choices=[c for c in BrokerAccount.Platform.choices if c[0] != BrokerAccount.Platform.PAPER],
    )
    label = models.CharField(max_length=100, help_text="How the login shows on your pages.")
    environment = models.CharField(max_length=10, choices=Environment.choices)
    identity = models.CharField(max_length=200)
    secret = models.TextField()
    enabled = models.BooleanField(default=True)
    connection_state = models.CharField(
        max_length=20, choices=ConnectionState.choices, default=ConnectionState.UNKNOWN
    )
    connection_detail = models.TextField(blank=True)
    connection_since = models.DateTimeField(null=True, blank=True)
    budget_used = models.IntegerField(null=True, blank=True)
    budget_limit = models.IntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "label"], name="uniq_broker_login_owner_label"
            ),
            models.CheckConstraint(
                condition=~Q(platform=BrokerAccount.Platform.PAPER),
                name="broker_login_platform_not_paper",
            ),
            models.CheckConstraint(
                condition=Q(environment__in=[e.value for e in LoginEnvironment]),
                name="broker_login_environment_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.platform} {self.environment})"

    def __repr__(self) -> str:
        # The secret column is a ciphertext, but it stays out of reprs anyway.
        return f"<BrokerLogin {self.pk} {self.platform} {self.label!r} {self.identity!r}>"
