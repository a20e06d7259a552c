"""Who may change a trader's rows through a service, and on what terms
(issue 14, "Production security": admin changes go through the services).

The owner changes their own rows from the dashboard. A staff member acting
in the Django admin may change them too, but only while holding the admin's
permission for that model and only with a written reason, which the service
journals beside their name and id: a trader must be able to read who outside
their account touched it, and why.
"""

from __future__ import annotations

from typing import Any

from copytrade.core.errors import ApplicationError


def actor_is_staff_with(actor: Any, perm: str) -> bool:
    """True for an active staff user holding ``perm`` (``"app.codename"``)."""
    return bool(
        getattr(actor, "is_active", False)
        and getattr(actor, "is_staff", False)
        and actor.has_perm(perm)
    )


def actor_reason_check(*, actor: Any, owner_id: int, perm: str, reason: str, refusal: str) -> str:
    """The stripped ``reason`` when ``actor`` may change a row of user
    ``owner_id``: the owner always (the reason may be empty), a staff user
    holding ``perm`` only with a written reason.

    Raises :class:`ApplicationError` with ``refusal`` for anyone else, and
    with ``field="reason"`` for a staff change without a reason.
    """
    reason = (reason or "").strip()
    if actor.pk == owner_id:
        return reason
    if not actor_is_staff_with(actor, perm):
        raise ApplicationError(refusal)
    if not reason:
        raise ApplicationError(
            "a change made for another user needs a written reason", field="reason"
        )
    return reason


def actor_note(actor: Any, owner_id: int, reason: str) -> str:
    """``" (by staff alice: reason)"`` for a staff change, ``": reason"`` for
    the owner's own change with a reason, else empty: the tail of a journal
    message."""
    if actor.pk != owner_id:
        return f" (by staff {actor.get_username()}: {reason})"
    return f": {reason}" if reason else ""
