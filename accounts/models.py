"""Users and broker accounts."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q

from copytrade.core.models import ZERO, BaseModel, money_field


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
