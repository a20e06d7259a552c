"""Each real platform's credential fields: what a login stores (encrypted)
and what the connect form asks for.

The field names are the ones the platform adapters read from
:attr:`routing.brokers.logins.LoginConfig.credentials`:

* ProjectX (the Gateway API, "Authenticate with API key": ``userName`` +
  ``apiKey``): ``username``, ``api_key``;
* Tradovate (``/auth/accesstokenrequest``: ``name``, ``password``,
  ``appId``, ``appVersion``, ``cid``, ``sec``, optional ``deviceId``):
  ``username``, ``password``, ``app_id``, ``app_version``, ``cid``,
  ``secret``, ``device_id`` (optional);
* Rithmic (R | Protocol API login: user, password, system name such as
  "Rithmic Paper Trading", "Apex" or "TopstepTrader", and the gateway's
  R|Protocol address such as ``rituz00100.rithmic.com:443``, which the
  adapter connects to): ``username``, ``password``, ``system``, ``gateway``;
* IB Gateway (TWS API socket: host, port, client id): ``host``, ``port``,
  ``client_id`` (the port and client id are integers, kept as their text).

``identity`` is the part a page may show: the user name, or
``host:port/client_id`` for IB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from accounts.models import BrokerAccount

Platform = BrokerAccount.Platform


@dataclass(frozen=True, slots=True)
class CredentialField:
    """One credential field: its ``name`` (the key in the stored JSON),
    its form ``label``, whether it is ``secret`` (a password input whose
    value never renders back), ``required``, and ``kind`` ``"text"`` or
    ``"int"`` (an integer in ``[min_value, max_value]``)."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    kind: str = "text"
    min_value: int | None = None
    max_value: int | None = None
    help_text: str = ""


CREDENTIAL_FIELDS: Mapping[str, tuple[CredentialField, ...]] = {
    Platform.PROJECTX: (
        CredentialField("username", "User name"),
        CredentialField("api_key", "API key", secret=True),
    ),
    Platform.TRADOVATE: (
        CredentialField("username", "User name"),
        CredentialField("password", "Password", secret=True),
        CredentialField("app_id", "App id", help_text="The API key's application id."),
        CredentialField("app_version", "App version", help_text='For example "1.0".'),
        CredentialField("cid", "Client id (cid)"),
        CredentialField("secret", "API secret", secret=True),
        CredentialField(
            "device_id",
            "Device id",
            required=False,
            help_text="Optional: a stable id for this install.",
        ),
    ),
    Platform.RITHMIC: (
        CredentialField("username", "User name"),
        CredentialField("password", "Password", secret=True),
        CredentialField(
            "system",
            "System",
            help_text='As your firm names it: "Rithmic Paper Trading", "Apex", "TopstepTrader"…',
        ),
        CredentialField(
            "gateway",
            "Gateway address",
            help_text=(
                "The R|Protocol address your firm or Rithmic gives you, "
                'e.g. "rituz00100.rithmic.com:443" for Rithmic Test.'
            ),
        ),
    ),
    Platform.IB: (
        CredentialField("host", "Gateway host", help_text="Where IB Gateway or TWS runs."),
        CredentialField("port", "Port", kind="int", min_value=1, max_value=65535),
        CredentialField(
            "client_id",
            "Client id",
            kind="int",
            min_value=0,
            max_value=2**31 - 1,
            help_text="Unique per API connection to the gateway.",
        ),
    ),
}


def credential_fields(platform: str) -> tuple[CredentialField, ...]:
    """The credential fields of ``platform``.

    Raises ``ValueError`` for paper (no login) or an unknown platform.
    """
    try:
        return CREDENTIAL_FIELDS[platform]
    except KeyError:
        raise ValueError(f"no broker login for platform {platform!r}") from None


def login_identity(platform: str, fields: Mapping[str, str]) -> str:
    """The non-secret identifier of a login (pages show it): the user name,
    or ``host:port/client_id`` for IB."""
    if platform == Platform.IB:
        return f"{fields['host']}:{fields['port']}/{fields['client_id']}"
    return fields["username"]
