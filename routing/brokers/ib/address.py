"""Where an IB login connects, and keeping that out of the logs.

An IB login's credentials are ``{"host", "port", "client_id"}``
(:class:`~routing.brokers.logins.LoginConfig`); like any credentials they
never appear in states, errors or log lines.
"""

from __future__ import annotations

import logging
import re

from routing.brokers.logins import LoginConfig


class _RedactAddress(logging.Filter):
    """Keeps a login's host, port and client id (its credentials) out of
    ib_async's own log lines ("Connecting to h:p with clientId n",
    "Connect call failed ('h', p)", "clientId n already in use?")."""

    _PATTERNS = (
        (re.compile(r"to \S+:\d+ with clientId \d+"), "to <gateway> with clientId <hidden>"),
        (re.compile(r"\('[^']*', \d+\)"), "(<gateway>)"),
        (re.compile(r"clientId \d+"), "clientId <hidden>"),
    )

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for pattern, replacement in self._PATTERNS:
            text = pattern.sub(replacement, text)
        record.msg, record.args = text, None
        return True


logging.getLogger("ib_async.client").addFilter(_RedactAddress())


class LoginCredentialsError(ValueError):
    """The login's credentials are not a usable host / port / client id."""


def login_address(config: LoginConfig) -> tuple[str, int, int]:
    """``(host, port, client_id)`` of an IB login: ``endpoint`` (``"host:port"``
    or ``"host"``) wins over the credentials' ``host`` / ``port``. Raises
    :class:`LoginCredentialsError` (naming the login, never a value)."""
    creds = config.credentials
    host = config.endpoint or creds.get("host", "")
    if ":" in host and config.endpoint:
        host, _, port_text = host.rpartition(":")
    else:
        port_text = creds.get("port", "")
    try:
        port, client_id = int(port_text), int(creds.get("client_id", ""))
    except ValueError:
        raise LoginCredentialsError(
            f"login {config.login_id}: IB credentials need a numeric port and client_id"
        ) from None
    if not host:
        raise LoginCredentialsError(f"login {config.login_id}: IB credentials need a host")
    return host, port, client_id
