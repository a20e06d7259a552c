"""Accounts: self-service sign-up with a confirmed e-mail address, login by
username or e-mail, password reset (django-allauth, ``account`` app only),
and the outgoing e-mail those links travel in.

With no ``EMAIL_*`` variables the messages are printed to the console (the
web process's standard output), so a fresh install can confirm a sign-up
without a mail server. ``EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend``
plus ``EMAIL_HOST``, ``EMAIL_PORT``, ``EMAIL_HOST_USER``, ``EMAIL_HOST_PASSWORD``
(or ``_FILE``), ``EMAIL_USE_TLS`` / ``EMAIL_USE_SSL`` send them for real;
``EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend`` writes them
to files in ``EMAIL_FILE_PATH``. Tests use Django's in-memory
outbox (pytest-django switches the backend).
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from copytrade.env import envbool, envint, envsecret, envstr

# Django's console backend, printing the text as written (links not wrapped).
CONSOLE_BACKEND = "accounts.mail.ConsoleEmailBackend"
SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
FILE_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
_email_backend = envstr("EMAIL_BACKEND", CONSOLE_BACKEND)
_email_options: dict[str, object] = {}
if _email_backend == SMTP_BACKEND:
    _email_options = {
        "host": envstr("EMAIL_HOST", "localhost"),
        "port": envint("EMAIL_PORT", 25),
        "username": envstr("EMAIL_HOST_USER"),
        "password": envsecret("EMAIL_HOST_PASSWORD") or "",
        "use_tls": envbool("EMAIL_USE_TLS", default=False),
        "use_ssl": envbool("EMAIL_USE_SSL", default=False),
        "timeout": envint("EMAIL_TIMEOUT", 10),
    }
elif _email_backend == FILE_BACKEND:
    _email_options = {"file_path": envstr("EMAIL_FILE_PATH", "mail")}
# Django 6.1 configures outgoing mail as MAILERS (the EMAIL_* settings are
# deprecated there); the EMAIL_* environment variables keep their usual names.
MAILERS = {"default": {"BACKEND": _email_backend, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Copytrade <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Usernames stay (the demo logs in as ``demo``); either one logs in.
ACCOUNT_LOGIN_METHODS = {"username", "email"}
# A new sign-up must give an e-mail address no other user has.
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# No login until the address is confirmed through the link mailed at sign-up
# (accounts.adapter exempts operator-made users that have no address at all).
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
# The link opens a page with a Confirm button (a POST): mail scanners that
# follow links must not confirm on the user's behalf.
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Copytrade] "
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_FORMS = {"login": "accounts.forms.LoginForm"}
# A wrong or taken address is not revealed: sign-up with a taken one mails the
# owner instead; reset of an unknown one says "sent" all the same (allauth's
# defaults, kept). Its rate limits (login failures, sign-ups, reset and
# confirmation mails per IP/address) are kept at the defaults too.
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# SIGNUP_OPEN=False closes self-service sign-up (users are then made in the
# admin); login and password reset keep working.
ACCOUNT_SIGNUP_ENABLED = envbool("SIGNUP_OPEN", default=True)

# Second factor (django-otp, TOTP): any user may turn it on at
# /profile/two-factor/; the admin requires it (copytrade.admin_site). The
# issuer is the name authenticator apps show beside the code.
OTP_TOTP_ISSUER = envstr("OTP_TOTP_ISSUER", "Copytrade")

# Login throttling and lockout (django-axes, accounts.login_guard): after
# AXES_FAILURE_LIMIT failed logins of one login name from one address, that
# pair is refused (the right password too) for AXES_COOLOFF_MINUTES; every
# failure is recorded in the database (admin: Axes). Behind a reverse proxy,
# AXES_IPWARE_PROXY_COUNT is the number of proxies in front of the app, so the
# client's address is read from X-Forwarded-For.
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5)
# allauth's own failed-login limit stays in front as a backstop against a
# distributed attack on one account (many addresses), above axes' limit so
# the owner on another address still gets in while one address is locked:
# 10 a minute per address, 20 per login name in 15 minutes (its default,
# 5 per name in 5 minutes, locked the owner out wherever they were).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,20/15m/key"}
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.login_guard.login_name"
AXES_RESET_ON_SUCCESS = True
# Each failure is kept too (time, address, browser), not only the count.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# No start-up banner on every manage.py command; failures still logged as warnings.
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "account/locked_out.html"
if envstr("AXES_IPWARE_PROXY_COUNT"):
    AXES_IPWARE_PROXY_COUNT = envint("AXES_IPWARE_PROXY_COUNT", 1)

# Re-authentication before dangerous actions (accounts.reauth): connecting or
# changing broker credentials, leaving route level 4 Locked, resuming a paused
# route or follower, releasing a symbol quarantine. The password, or a current
# code of the user's authenticator app, must have been given again within the
# last REAUTHENTICATION_TIMEOUT seconds (allauth's sudo window; the login
# itself does not count). Emergency flatten never asks.
ACCOUNT_REAUTHENTICATION_TIMEOUT = envint("REAUTHENTICATION_TIMEOUT", 300)
if ACCOUNT_REAUTHENTICATION_TIMEOUT <= 0:
    raise ImproperlyConfigured(
        f"REAUTHENTICATION_TIMEOUT must be a positive number of seconds, "
        f"got {ACCOUNT_REAUTHENTICATION_TIMEOUT}"
    )
# Password, or the second factor ("mfa": accounts.reauth's TOTP page); never
# a code mailed to the address (a mailbox is not a second factor).
ACCOUNT_REAUTHENTICATION_METHODS = ("password", "mfa")
