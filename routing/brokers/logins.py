"""Broker logins: one set of credentials at a platform, serving many accounts.

A trader with twelve prop-firm accounts logs in to a platform once per
login (a ProjectX API key, a Tradovate user, a Rithmic user, an IB Gateway
client id) and that login carries many accounts. The engine worker hands
each platform's adapter the logins it serves as :class:`LoginConfig`
values (credentials decrypted in the worker only, never stored here or
logged), and the adapter routes each request by the request's account to
the login that holds it.

Every adapter of a real platform is a :class:`LoginAdapter`: besides the
:class:`~routing.brokers.base.BrokerAdapter` interface it takes its logins
(and changes to them) at run time, reports each login's connection state
and says whether one account's connection is up, so the engine blocks that
follower's orders with the reason while it is down.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from routing.brokers.base import BrokerAdapter


class Environment(StrEnum):
    """The platform environment a login connects to."""

    DEMO = "demo"  # the platform's simulated / paper environment
    LIVE = "live"


@dataclass(frozen=True)
class LoginConfig:
    """One login as the engine worker hands it to its platform's adapter.

    ``login_id`` is the stored login's primary key (``accounts.BrokerLogin``);
    ``credentials`` the platform's own fields, decrypted (e.g. ProjectX
    ``{"username", "api_key"}``; Tradovate ``{"username", "password",
    "app_id", "cid", "secret"}``; Rithmic ``{"username", "password",
    "system", "gateway"}``; IB ``{"host", "port", "client_id"}``);
    ``accounts`` the external ids (the platform's account ids) of the
    accounts under this login that the worker acts for; ``endpoint``
    overrides the platform's address (tests point it at a local fake
    server; ``None``: the platform's address for ``environment``).

    ``repr`` never shows the credentials' values: a login can be logged.
    """

    login_id: int
    platform: str
    environment: Environment
    credentials: Mapping[str, str] = field(repr=False)
    accounts: tuple[str, ...] = ()
    endpoint: str | None = None

    def __repr__(self) -> str:
        return (
            f"LoginConfig(login_id={self.login_id}, platform={self.platform!r}, "
            f"environment={self.environment.value!r}, accounts={self.accounts!r}, "
            f"credentials=<{len(self.credentials)} fields hidden>)"
        )


class ConnectionState(StrEnum):
    """Where one login's connection stands."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    DOWN = "down"  # lost; the adapter reconnects with backoff
    FAILED = "failed"  # refused (bad credentials): no retry until the trader acts


@dataclass(frozen=True)
class LoginState:
    """One login's connection state for the accounts page and the worker.

    ``since`` is the aware UTC time the state began; ``detail`` a sentence
    a trader can act on (never a credential); ``budget_used`` and
    ``budget_limit`` the requests spent and allowed in the platform's
    current rate-limit window (``None`` when the platform has none).
    """

    login_id: int
    state: ConnectionState
    since: datetime
    detail: str = ""
    budget_used: int | None = None
    budget_limit: int | None = None


# What the real platforms' adapters support today: every order type but
# brackets (follower bracket legs are refused with the reason) and leader
# fills but not leader working orders. An adapter that differs says so with
# ``{**LOGIN_ADAPTER_CAPABILITIES, "stop_limit": False}``.
LOGIN_ADAPTER_CAPABILITIES: Mapping[str, bool] = MappingProxyType(
    {
        "market": True,
        "limit": True,
        "stop": True,
        "stop_limit": True,
        "bracket": False,
        "modify": True,
        "cancel": True,
        "partial_fills": True,
        "order_updates": True,
        "flatten": True,
        "stream_leader": True,
        "stream_leader_orders": False,
    }
)


class LoginAdapter(BrokerAdapter):
    """A real platform's adapter: many logins, each with many accounts.

    ``connect`` opens every login it was given; a login that fails does not
    stop the others (its state says why). Requests for an account no login
    holds raise :class:`~routing.brokers.errors.BrokerFatal` naming it.
    """

    @abc.abstractmethod
    async def set_logins(self, logins: Sequence[LoginConfig]) -> None:
        """Serve exactly ``logins`` from now on: open the new ones, close
        the ones no longer given, reopen one whose credentials or accounts
        changed. Never raises for one login's failure (its state says it)."""

    @abc.abstractmethod
    def login_states(self) -> list[LoginState]:
        """The state of every login served, sorted by ``login_id``."""

    @abc.abstractmethod
    def account_connected(self, account: str) -> bool:
        """True when the login holding ``account`` is connected (False for
        an account no login holds)."""

    async def watch_prices(self, symbols: Collection[str]) -> None:
        """Keep the last traded price of ``symbols`` (contract codes, e.g.
        ``"MNQH6"``) current from the platform's market data, from now on,
        for :meth:`last_price`; symbols no longer given may be dropped. The
        engine worker calls it every layer-2 pass with the contracts its
        accounts on this platform hold, so their positions are marked (and
        loss limits enforced) between leader fills. Never raises for a
        symbol the platform does not know (its price stays unknown).
        Default: no market data."""
        return None

    def last_price(self, symbol: str) -> tuple[Decimal, datetime] | None:
        """The last traded price of ``symbol`` (points) and its aware UTC
        time, or ``None`` when unknown (not watched, no trade yet, market
        data down). Default: unknown."""
        return None

    def account_unreachable(self, account: str) -> str | None:
        """Why orders to ``account`` cannot be sent now (a sentence for the
        journal, never a credential), or ``None`` when its login is
        connected. Adapters may override it to name the login's state."""
        if self.account_connected(account):
            return None
        return f"{self.platform} connection for account {account} is down"
