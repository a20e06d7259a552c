"""One Tradovate login: access token, REST calls within the budget, state.

Source: Tradovate API documentation, "Access Token Request" (POST
``/auth/accesstokenrequest`` with ``name``, ``password``, ``appId``,
``appVersion``, ``cid``, ``sec``, ``deviceId`` -> ``accessToken``,
``mdAccessToken``, ``expirationTime``, ``userId``; a refusal is a 200 with
``errorText``), "Renew Access Token" (GET ``/auth/renewaccesstoken``; tokens
live 90 minutes), "Time Penalty" (an answer ``{"p-ticket", "p-time",
"p-captcha"}``: wait ``p-time`` seconds, then repeat the request with the
ticket) and "Error Handling" (429 locks the login for up to an hour, so
this session never retries into it: the login goes DOWN for
``lockout_seconds`` and every request meanwhile raises
``BrokerTemporaryError``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from routing.brokers.budget import Priority, RequestBudget
from routing.brokers.errors import BrokerFatal, BrokerTemporaryError
from routing.brokers.logins import ConnectionState, Environment, LoginConfig, LoginState
from routing.brokers.tradovate.protocol import (
    DEMO_URL,
    LIVE_URL,
    market_data_url,
    penalty_of,
    websocket_url,
)

logger = logging.getLogger(__name__)

REQUIRED_CREDENTIALS = ("username", "password", "app_id", "app_version", "cid", "secret")
# Tradovate's lock after a 429 lasts up to an hour ("Error Handling").
LOCKOUT_SECONDS = 3600.0
# Renew this long before the token expires (tokens live 90 minutes).
RENEW_MARGIN = timedelta(minutes=10)
PENALTY_REPEATS = 3  # a penalty answer repeated this often is given up (temporary)


class OutcomeUnknownError(BrokerTemporaryError):
    """The request may have reached Tradovate but no answer came back
    (timeout, connection dropped): look the result up before any resend."""


class TokenRefusedError(BrokerTemporaryError):
    """Tradovate answered 401 to a request carrying a token (expired or
    revoked): the token is renewed or the login redone, then retried."""


class TradovateSession:
    """REST access for one login, its token and its connection state.

    ``config.credentials`` needs ``username``, ``password``, ``app_id``,
    ``app_version``, ``cid``, ``secret`` (optional ``device_id``); a missing
    one marks the login FAILED naming the field (never its value).
    ``budget`` is spent before every request. The websocket side
    (:mod:`routing.brokers.tradovate.stream`) reports ``stream_up``.
    """

    def __init__(
        self,
        config: LoginConfig,
        budget: RequestBudget,
        *,
        request_timeout: float = 10.0,
        lockout_seconds: float = LOCKOUT_SECONDS,
        renew_margin: timedelta = RENEW_MARGIN,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.config = config
        self.budget = budget
        base = config.endpoint or (LIVE_URL if config.environment == Environment.LIVE else DEMO_URL)
        self.base_url = base.rstrip("/")
        self.ws_url = websocket_url(self.base_url)
        self.md_url = market_data_url(self.base_url)
        self._client = httpx.AsyncClient(base_url=self.base_url, timeout=request_timeout)
        self._lockout = lockout_seconds
        self._renew_margin = renew_margin
        self._sleep = sleep
        self.token: str | None = None
        self.md_token: str | None = None  # authorizes the market-data websocket
        self.expires: datetime | None = None
        self.user_id: int | None = None
        self.accounts: dict[str, int] = {}  # external id (name or id text) -> account id
        self.account_names: dict[int, str] = {}
        self.stream_up = False
        self.failed = ""
        self.paused_until: datetime | None = None
        self.renew_wanted = asyncio.Event()  # set on a 401: renew before the due time
        self._state = ConnectionState.CONNECTING
        self._detail = "logging in"
        self._since = datetime.now(UTC)

    # -- state -----------------------------------------------------------------

    def _mark(self, state: ConnectionState, detail: str) -> None:
        if state != self._state or detail != self._detail:
            if state != self._state:
                self._since = datetime.now(UTC)
                logger.info("tradovate login %s: %s (%s)", self.config.login_id, state, detail)
            self._state, self._detail = state, detail

    def refresh_state(self) -> ConnectionState:
        """Recompute the state from the facts (failure, lockout, stream)."""
        now = datetime.now(UTC)
        if self.failed:
            self._mark(ConnectionState.FAILED, self.failed)
        elif self.paused_until is not None and now < self.paused_until:
            self._mark(
                ConnectionState.DOWN,
                "Tradovate answered 429 (too many requests) and locks the login for up to "
                f"an hour: paused until {self.paused_until:%H:%M:%S} UTC",
            )
        elif self.token is not None and self.stream_up:
            self.paused_until = None
            self._mark(ConnectionState.CONNECTED, "logged in, user sync stream open")
        elif self._state == ConnectionState.CONNECTED or self.paused_until is not None:
            self.paused_until = None
            self._mark(ConnectionState.DOWN, "connection lost: reconnecting")
        return self._state

    def down(self, detail: str) -> None:
        """The connection is lost (``detail`` says why and when it retries)."""
        self.stream_up = False
        if not self.failed:
            self._mark(ConnectionState.DOWN, detail)

    def fail(self, detail: str) -> None:
        """Refused for good (bad credentials): no retry until the trader acts."""
        self.failed = detail
        self.stream_up = False
        self._mark(ConnectionState.FAILED, detail)

    def login_state(self) -> LoginState:
        state = self.refresh_state()
        used, limit = self.budget.used()
        return LoginState(
            login_id=self.config.login_id,
            state=state,
            since=self._since,
            detail=self._detail,
            budget_used=used,
            budget_limit=limit,
        )

    def require_usable(self) -> None:
        """Raise ``BrokerFatal`` when FAILED, ``BrokerTemporaryError`` when
        not connected (nothing is sent then)."""
        state = self.refresh_state()
        if state == ConnectionState.FAILED:
            raise BrokerFatal(f"Tradovate login {self.config.login_id} failed: {self.failed}")
        if state != ConnectionState.CONNECTED:
            raise BrokerTemporaryError(
                f"Tradovate login {self.config.login_id} is {state}: {self._detail}"
            )

    # -- authentication -----------------------------------------------------------

    async def login(self) -> None:
        """Request an access token and list the login's accounts.

        Raises ``BrokerFatal`` for refused or missing credentials (the login
        is FAILED) and ``BrokerTemporaryError`` when Tradovate cannot be
        reached or answers 429.
        """
        creds = self.config.credentials
        missing = [name for name in REQUIRED_CREDENTIALS if not creds.get(name)]
        if missing:
            self.fail(f"credentials lack {', '.join(missing)}")
            raise BrokerFatal(f"Tradovate login {self.config.login_id}: {self.failed}")
        try:
            cid = int(creds["cid"])
        except ValueError:
            self.fail("credential 'cid' must be the API key's number")
            raise BrokerFatal(f"Tradovate login {self.config.login_id}: {self.failed}") from None
        body = {
            "name": creds["username"],
            "password": creds["password"],
            "appId": creds["app_id"],
            "appVersion": creds["app_version"],
            "cid": cid,
            "sec": creds["secret"],
        }
        if creds.get("device_id"):
            body["deviceId"] = creds["device_id"]
        answer = await self.call("POST", "/auth/accesstokenrequest", Priority.QUERY, body=body)
        self._take_token(answer, "access token request")
        accounts = await self.call("GET", "/account/list", Priority.QUERY)
        self.accounts, self.account_names = {}, {}
        for account in accounts if isinstance(accounts, list) else []:
            account_id = int(account["id"])
            self.accounts[str(account["name"])] = account_id
            self.accounts[str(account_id)] = account_id
            self.account_names[account_id] = str(account["name"])
        unknown = [a for a in self.config.accounts if a not in self.accounts]
        if unknown:
            logger.warning(
                "tradovate login %s does not hold accounts %s", self.config.login_id, unknown
            )

    def _take_token(self, answer: Any, what: str) -> None:
        if not isinstance(answer, Mapping) or "accessToken" not in answer:
            text = answer.get("errorText") if isinstance(answer, Mapping) else None
            self.fail(f"Tradovate refused the {what}: {text or 'no access token in the answer'}")
            raise BrokerFatal(f"Tradovate login {self.config.login_id}: {self.failed}")
        self.token = str(answer["accessToken"])
        if answer.get("mdAccessToken"):
            self.md_token = str(answer["mdAccessToken"])
        self.user_id = int(answer["userId"]) if "userId" in answer else self.user_id
        expires = answer.get("expirationTime")
        self.expires = (
            datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
            if expires
            else datetime.now(UTC) + timedelta(minutes=90)
        )

    def renew_due_in(self) -> float:
        """Seconds until the token should be renewed (0 when overdue)."""
        if self.expires is None:
            return 0.0
        due = self.expires - self._renew_margin - datetime.now(UTC)
        return max(due.total_seconds(), 0.0)

    async def renew(self) -> None:
        """Renew the access token (GET ``/auth/renewaccesstoken``); a refused
        renewal logs in again. Raises like :meth:`login`."""
        self.renew_wanted.clear()
        try:
            answer = await self.call("GET", "/auth/renewaccesstoken", Priority.QUERY)
            self._take_token(answer, "token renewal")
        except (BrokerFatal, TokenRefusedError):
            self.failed = ""  # a refused renewal is not bad credentials: log in afresh
            self.token = None
            await self.login()
        self.renew_wanted.clear()  # the refused renewal itself asked for one

    # -- requests ------------------------------------------------------------------

    async def call(
        self,
        method: str,
        path: str,
        priority: Priority,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> Any:
        """One REST request within the budget; returns the decoded JSON answer,
        ``None`` when Tradovate answers 404 (no such entity) or when a
        modification waiting with ``key`` was superseded (nothing sent).

        A time-penalty answer is honoured: the login's budget is penalised
        (``penalise(seconds)`` when it has one), the call waits ``p-time``
        seconds and repeats with the ticket; one asking for a captcha
        (``p-captcha``) marks the login FAILED (a person must act). Raises ``BrokerTemporaryError``
        while locked out or on a 429 (the login then goes DOWN for
        ``lockout_seconds``; never retried), :class:`OutcomeUnknownError` when
        the request went out but no answer came back, and ``BrokerFatal`` on
        401 for a login that was never authorised.
        """
        ticket: str | None = None
        for _ in range(PENALTY_REPEATS + 1):
            self._check_lockout()
            if not await self.budget.spend(priority, key=key):
                return None
            self._check_lockout()
            answer = await self._send(method, path, body, params, ticket)
            penalty = penalty_of(answer)
            if penalty is None:
                return answer
            if isinstance(answer, Mapping) and answer.get("p-captcha"):
                # Only a person can solve it: repeating would only extend the penalty.
                self.fail(
                    "Tradovate asks for a captcha: log in once on Tradovate's own site, "
                    "then save this login again"
                )
                raise BrokerFatal(f"Tradovate login {self.config.login_id}: {self.failed}")
            ticket, seconds = penalty
            logger.warning(
                "tradovate login %s: time penalty on %s, repeating in %.1f s",
                self.config.login_id,
                path,
                seconds,
            )
            penalise = getattr(self.budget, "penalise", None)
            if callable(penalise):
                penalise(seconds)
            await self._sleep(seconds)
        raise BrokerTemporaryError(
            f"Tradovate kept answering {path} with time penalties ({PENALTY_REPEATS} repeats)"
        )

    def _check_lockout(self) -> None:
        if self.paused_until is not None and datetime.now(UTC) < self.paused_until:
            raise BrokerTemporaryError(
                f"Tradovate login {self.config.login_id} paused after a 429 until "
                f"{self.paused_until:%H:%M:%S} UTC (Tradovate locks a login for up to an hour)"
            )

    async def _send(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
        ticket: str | None,
    ) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        payload = dict(body) if body is not None else None
        query = dict(params) if params is not None else None
        if ticket is not None:
            if method == "POST":
                payload = {**(payload or {}), "p-ticket": ticket}
            else:
                query = {**(query or {}), "p-ticket": ticket}
        try:
            response = await self._client.request(
                method, path, json=payload, params=query, headers=headers
            )
        except httpx.ConnectError as exc:
            raise BrokerTemporaryError(f"Tradovate unreachable for {path}: {exc}") from exc
        except httpx.TransportError as exc:
            raise OutcomeUnknownError(
                f"no answer from Tradovate for {path} ({type(exc).__name__}): outcome unknown"
            ) from exc
        if response.status_code == 429:
            self.paused_until = datetime.now(UTC) + timedelta(seconds=self._lockout)
            self.refresh_state()
            raise BrokerTemporaryError(
                f"Tradovate answered 429 to {path}: login {self.config.login_id} paused "
                f"{self._lockout:.0f} s (never retried into a lock)"
            )
        if response.status_code == 401:
            if self.token is None:
                self.fail(f"Tradovate refused the login (401 on {path})")
                raise BrokerFatal(f"Tradovate login {self.config.login_id}: {self.failed}")
            self.renew_wanted.set()
            raise TokenRefusedError(f"Tradovate answered 401 to {path}: token refused, renewing")
        if response.status_code == 404:
            return None  # "Error Handling": 404 means the entity asked for is not there
        if response.status_code >= 500:
            raise OutcomeUnknownError(f"Tradovate answered {response.status_code} to {path}")
        if response.status_code >= 400:
            raise BrokerTemporaryError(
                f"Tradovate answered {response.status_code} to {path}: {response.text[:200]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise OutcomeUnknownError(f"unreadable answer from Tradovate for {path}") from exc

    async def close(self) -> None:
        self.stream_up = False
        await self._client.aclose()
