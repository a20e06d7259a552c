"""What tests of the admin and the second factor share: a confirmed TOTP
device, its current code, and a client whose session it verified.

Used by the root ``conftest.py`` fixtures (``staff``, ``staff_client``), the
admin tests and the browser review test, which types :func:`totp_code`.
"""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User


def totp_device_for(user: User, *, confirmed: bool = True) -> TOTPDevice:
    """A TOTP device of ``user`` with a random key (confirmed unless told)."""
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=confirmed)


def totp_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The 6-digit code ``device``'s authenticator app shows now (or
    ``steps_ahead`` 30-second steps later: django-otp refuses a code twice,
    and accepts the next step's within its tolerance of 1)."""
    device.refresh_from_db()
    code = totp(
        device.bin_key,
        step=device.step,
        t0=device.t0,
        digits=device.digits,
        drift=device.drift + steps_ahead,
    )
    return f"{code:0{device.digits}d}"


def verified_client(user: User, device: TOTPDevice | None = None) -> Client:
    """A client logged in as ``user`` whose session ``device`` (by default
    a new confirmed one) verified, as a login with the code leaves it."""
    device = device or totp_device_for(user)
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client
