"""Writes for users and broker accounts."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import transaction
from django_otp.models import VerifyNotAllowed
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import BrokerAccount, User
from accounts.selectors import totp_device_confirmed, totp_device_pending
from copytrade.core.errors import ApplicationError
from journal.models import EventType
from journal.services import journal_record

TOTP_DEVICE_NAME = "Authenticator app"


@transaction.atomic
def broker_account_create(
    *,
    owner: User,
    name: str,
    balance: Decimal,
    kind: str = BrokerAccount.Kind.PERSONAL,
    platform: str = BrokerAccount.Platform.PAPER,
    external_id: str | None = None,
    firm: str = "",
) -> BrokerAccount:
    """Create a broker account with ``balance`` dollars as starting and current
    balance. Paper accounts get a generated external id when none is given.

    Raises ``ApplicationError`` for a negative balance or an unknown kind.
    """
    if balance < 0:
        raise ApplicationError(f"balance must be ≥ 0, got {balance}", field="balance")
    if kind not in BrokerAccount.Kind.values:
        raise ApplicationError(f"unknown account kind {kind!r}", field="kind")
    if external_id is None:
        if platform != BrokerAccount.Platform.PAPER:
            raise ApplicationError("a broker account needs its external id", field="external_id")
        external_id = f"paper-{uuid.uuid4().hex[:12]}"
    return BrokerAccount.objects.create(
        owner=owner,
        name=name,
        platform=platform,
        external_id=external_id,
        kind=kind,
        firm=firm,
        starting_balance=balance,
        balance=balance,
    )


# -- Second factor (TOTP, django-otp) --


@transaction.atomic
def totp_setup_start(*, user: User) -> TOTPDevice:
    """A fresh unconfirmed TOTP device (new random key) for ``user``,
    replacing any earlier unfinished set-up. It counts nowhere until
    :func:`totp_device_confirm` accepts a code from it.

    Raises ``ApplicationError`` when the second factor is already on (turn
    it off first: one confirmed device per user).
    """
    if totp_device_confirmed(user) is not None:
        raise ApplicationError("Two-factor authentication is already on: turn it off first.")
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)


def totp_token_check(*, device: TOTPDevice, token: str) -> None:
    """Verify ``token`` against ``device`` (its throttling and its
    no-reuse rule included: django-otp records the failure or the step used).

    Raises ``ApplicationError`` for a wrong or reused code, or while the
    device is throttled after wrong codes (1 s, 2 s, 4 s… after each).
    """
    with transaction.atomic():
        # Locked: two requests must not both accept one code.
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        allowed, extra = device.verify_is_allowed()
        if not allowed:
            if extra and extra.get("reason") == VerifyNotAllowed.N_FAILED_ATTEMPTS:
                raise ApplicationError(
                    f"{extra['failure_count']} wrong code(s) in a row: wait a few seconds "
                    "and try again.",
                    field="token",
                )
            raise ApplicationError("Codes are not accepted right now.", field="token")
        accepted = device.verify_token(token.strip())
    if not accepted:
        raise ApplicationError("Wrong or expired code.", field="token")


def totp_device_confirm(*, user: User, token: str, ip: str | None = None) -> TOTPDevice:
    """Turn the second factor on: ``token`` must be a current code of
    ``user``'s unconfirmed device. Journaled in ``user``'s journal with the
    address the request came from (``ip``).

    Raises ``ApplicationError`` when nothing is being set up or the code is wrong.
    """
    device = totp_device_pending(user)
    if device is None:
        raise ApplicationError("Start the set-up first.", field="token")
    # Checked in its own transaction: a wrong code's failure count must stay
    # recorded (throttling) although the change below does not happen.
    totp_token_check(device=device, token=token)
    with transaction.atomic():
        device.refresh_from_db()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        _second_factor_journal(user, EventType.SECOND_FACTOR_ENABLED, device, ip)
    return device


def totp_device_remove(*, user: User, token: str, ip: str | None = None) -> None:
    """Turn the second factor off: ``token`` must be a current code of
    ``user``'s confirmed device (a stolen session alone cannot do it). Every
    TOTP device of the user goes; sessions verified by it stop counting as
    verified (django-otp's middleware finds the device gone). Journaled.

    Raises ``ApplicationError`` when it is off or the code is wrong.
    """
    device = totp_device_confirmed(user)
    if device is None:
        raise ApplicationError("Two-factor authentication is not on.", field="token")
    totp_token_check(device=device, token=token)  # its own transaction, as above
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        _second_factor_journal(user, EventType.SECOND_FACTOR_DISABLED, device, ip)


def _second_factor_journal(
    user: User, event_type: EventType, device: TOTPDevice, ip: str | None
) -> None:
    on = event_type == EventType.SECOND_FACTOR_ENABLED
    journal_record(
        owner_id=user.pk,
        actor_user_id=user.pk,
        actor_label=user.get_username(),
        event_type=event_type,
        message=(
            "Two-factor authentication turned on (authenticator app)"
            if on
            else "Two-factor authentication turned off"
        ),
        extra_data={"device_id": device.pk, "ip": ip},
    )
