"""Per-account risk limits from the dashboard: create or change any of an
account's :class:`routing.models.RiskLimit` fields, journaled with who did it
and the values before and after. A request that changes nothing writes and
journals nothing (and creates no row).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import BrokerAccount, User
from copytrade.core.actors import actor_note, actor_reason_check
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record
from routing.engine.limits import POSITIVE_LIMITS, POSITIVE_MONEY_LIMITS, limit_names
from routing.engine.risk import money
from routing.models import Follower, RiskLimit

# Every editable limit: the engine's own list (the model's columns but the
# account and timestamps).
RISK_LIMIT_FIELDS = limit_names()
# ``None`` = no limit; a value must be > 0 (0 would silently read as "no
# limit" in ``RiskLimit.to_engine``: refused, fail closed).
_POSITIVE = POSITIVE_LIMITS
_ROOT = re.compile(r"^[A-Z0-9]{1,5}$")
_MONEY = frozenset(POSITIVE_MONEY_LIMITS)


def _roots_text(name: str, text: str) -> str:
    """``" mnq, es ,MNQ"`` -> ``"MNQ,ES"``; raises on a code that is no product root."""
    roots: list[str] = []
    for part in text.split(","):
        root = part.strip().upper()
        if not root:
            continue
        if not _ROOT.match(root):
            raise ApplicationError(
                f"{part.strip()!r} is not a product root (like MNQ or ES)", field=name
            )
        if root not in roots:
            roots.append(root)
    return ",".join(roots)


def _shown(name: str, value: Any) -> str:
    if value is None or value == "":
        return "not set"
    if name in _MONEY and isinstance(value, Decimal):
        return money(value)
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


@transaction.atomic
def risk_limit_update(
    *, account: BrokerAccount, actor: User, reason: str = "", **fields: Any
) -> bool:
    """Set ``fields`` (any of :data:`RISK_LIMIT_FIELDS`) on ``account``'s
    risk limits, creating the row when the account has none; return whether
    anything changed.

    Money fields are ``Decimal`` dollars, contract counts ``int``, percents
    ``Decimal`` (0-100], ``None`` removes a limit; root lists are
    comma-separated product roots (normalised to upper case). Only changed
    fields are saved and journaled (``risk_limit.changed``, ``before`` and
    ``after`` hold them, with the actor). Raises :class:`ApplicationError`
    (``field`` set when one is at fault) when ``actor`` is neither the
    account's owner nor staff holding ``routing.change_risklimit`` giving a
    ``reason`` (:func:`copytrade.core.actors.actor_reason_check`; the reason
    is journaled with the actor), a field is unknown, or the limits are
    inconsistent (a value ≤ 0, a percent out of range, a root both allowed
    and denied).
    """
    reason = actor_reason_check(
        actor=actor,
        owner_id=account.owner_id,
        perm="routing.change_risklimit",
        reason=reason,
        refusal="only the owner of an account may change its risk limits",
    )
    for name in fields:
        if name not in RISK_LIMIT_FIELDS:
            raise ApplicationError(f"{name} is not a risk limit")
    for name in ("allowed_roots", "denied_roots"):
        if name in fields:
            fields[name] = _roots_text(name, fields[name] or "")
    for name in _POSITIVE:
        value = fields.get(name)
        if value is not None and value <= 0:
            raise ApplicationError(
                f"must be greater than 0 (leave empty for no limit), got {value}", field=name
            )
    BrokerAccount.objects.select_for_update().filter(pk=account.pk).first()
    limit = RiskLimit.objects.filter(account=account).first() or RiskLimit(account=account)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for name, value in fields.items():
        current = getattr(limit, name)
        if current != value:
            before[name], after[name] = current, value
    if not after:
        return False
    for name, value in after.items():
        setattr(limit, name, value)
    try:
        limit.to_engine()
    except ValueError as exc:
        text = str(exc)
        field = next((n for n in RISK_LIMIT_FIELDS if text.startswith(n)), None)
        if field is None and text.startswith("roots both"):
            field = "denied_roots"
        raise ApplicationError(text, field=field) from exc
    created = limit.pk is None
    if created:
        limit.save()
    else:
        limit.save(update_fields=[*after, "updated_at"])
    follower = Follower.objects.filter(account=account).only("group_id").first()
    changes = ", ".join(
        f"{name} {_shown(name, before[name])} \u2192 {_shown(name, after[name])}" for name in after
    )
    journal_record(
        owner_id=account.owner_id,
        event_type=EventType.RISK_LIMIT_CHANGED,
        account_id=account.pk,
        group_id=follower.group_id if follower else None,
        actor_label=actor.get_username(),
        actor_user_id=actor.pk,
        message=(
            f"Risk limits of {account.name} changed by {actor.get_username()}: {changes}"
            f"{actor_note(actor, account.owner_id, reason)}"
        ),
        before=before,
        after=after,
        extra_data={"reason": reason} if reason else None,
    )
    return True
