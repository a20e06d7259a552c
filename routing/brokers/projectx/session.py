"""One ProjectX login: its REST client, its user hub connection, its state.

REST goes through project-x-py's client (``ProjectX``): its httpx setup,
bearer token and error classes, in particular its refusal to retry an
order call: a transport error, 5xx, 401 or 429 on ``/Order/place``,
``/Order/cancel`` or ``/Order/modify`` (the SDK's ``MUTATING_ENDPOINTS``)
raises ``OrderSubmissionUncertainError`` from ``_make_request``. Reads go
through the SDK's single-shot ``_execute_http_request`` instead, because
``_make_request`` retries them with sleeps (60 s after a 429): pacing
belongs to the login's :class:`~routing.brokers.budget.RequestBudget` and
retries to the engine worker. The SDK's own limiter is opened wide for the
same reason. The login itself is sent by hand (``/Auth/loginKey``): the
SDK's ``authenticate`` takes a refused login's ``token: null`` as a token.

The user hub runs on pysignalr (the SDK's own hub transport) directly,
one connection per login subscribed to every account of the login: the
SDK's ``ProjectXRealtimeClient`` serves one account, always opens the
market hub too and hides its run task, so a drop could not be reported.
pysignalr reconnects at once after a close (then with websockets' backoff
while refused); when it gives up, this session logs in again with its own
backoff (:data:`BACKOFF_FIRST` doubling to :data:`BACKOFF_MAX` seconds).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from project_x_py import ProjectX
from project_x_py.client.http import MUTATING_ENDPOINTS
from project_x_py.exceptions import (
    OrderSubmissionUncertainError,
    ProjectXAuthenticationError,
    ProjectXConnectionError,
    ProjectXError,
    ProjectXRateLimitError,
    ProjectXServerError,
)
from project_x_py.models import ProjectXConfig
from pysignalr.client import SignalRClient

from routing.brokers.budget import Priority, RequestBudget
from routing.brokers.errors import BrokerFatal, BrokerRejected, BrokerTemporaryError
from routing.brokers.logins import ConnectionState, LoginConfig, LoginState

logger = logging.getLogger(__name__)
# pysignalr logs the hub URL at INFO, and ProjectX wants the session token
# in that URL (project-x-py: "ProjectX Gateway requirement"): keep it out of logs.
logging.getLogger("pysignalr.transport").setLevel(logging.WARNING)

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
HUB_OPEN_TIMEOUT = 10.0
TOKEN_RENEW_BEFORE = timedelta(minutes=30)
HUB_EVENTS = ("GatewayUserOrder", "GatewayUserTrade", "GatewayUserPosition")

HubHandler = Callable[[str, Any], Awaitable[None]]


class UncertainOutcomeError(BrokerTemporaryError):
    """An order call may have reached ProjectX; look it up before resending."""


class LoginSession:
    """One login's connection. ``on_event(target, argument)`` receives every
    user hub event; ``on_open(reconnected)`` runs each time the hub opens
    (after the accounts are subscribed)."""

    def __init__(
        self,
        config: LoginConfig,
        budget: RequestBudget,
        on_event: HubHandler,
        on_open: Callable[[bool], Awaitable[None]],
    ) -> None:
        self.config = config
        self.budget = budget
        self._on_event = on_event
        self._on_open_cb = on_open
        self._state = LoginState(config.login_id, ConnectionState.CONNECTING, _now())
        self.history: list[ConnectionState] = [ConnectionState.CONNECTING]
        self.accounts: frozenset[str] = frozenset()  # configured and found at ProjectX
        self._client: ProjectX | None = None
        self._hub_task: asyncio.Task[None] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._hub_open = asyncio.Event()
        self._hub_error: BaseException | None = None
        self._opened_once = False
        self._closing = False

    @property
    def state(self) -> LoginState:
        used, limit = self.budget.used()
        s = self._state
        return LoginState(s.login_id, s.state, s.since, s.detail, used, limit)

    @property
    def connected(self) -> bool:
        return self._state.state is ConnectionState.CONNECTED

    @property
    def token(self) -> str | None:
        """The current session token (``None`` before the first login)."""
        return None if self._client is None else self._client.session_token

    @property
    def market_hub_url(self) -> str:
        """The Gateway's market hub: ``<endpoint>/hubs/market``, or the SDK's
        default (TopstepX, ``https://rtc.topstepx.com/hubs/market``)."""
        endpoint = (self.config.endpoint or "").rstrip("/")
        return f"{endpoint}/hubs/market" if endpoint else ProjectXConfig().market_hub_url

    def _set(self, state: ConnectionState, detail: str = "") -> None:
        detail = redact(detail)
        if state is not self._state.state or detail != self._state.detail:
            self._state = LoginState(self.config.login_id, state, _now(), detail)
            if self.history[-1] is not state:
                self.history.append(state)

    # -- lifecycle ------------------------------------------------------------

    async def open(self) -> None:
        """Log in, find the accounts, open the hub. Never raises: the state
        says FAILED (bad credentials, no retry) or DOWN (retried with backoff)."""
        self._closing = False
        try:
            await self._login_and_listen()
        except BrokerFatal as exc:
            self._set(ConnectionState.FAILED, str(exc))
        except BrokerTemporaryError as exc:
            self._set(ConnectionState.DOWN, f"{exc}; retrying")
            self._supervise()

    async def close(self) -> None:
        self._closing = True
        for task in (self._supervisor, self._hub_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._supervisor = self._hub_task = None
        if self._client is not None and self._client._client is not None:
            await self._client._client.aclose()
        self._client = None
        self._set(ConnectionState.DOWN, "disconnected")

    async def _login_and_listen(self) -> None:
        credentials = self.config.credentials
        missing = [k for k in ("username", "api_key") if not credentials.get(k)]
        if missing:
            raise BrokerFatal(
                f"ProjectX login {self.config.login_id}: missing {', '.join(missing)}"
            )
        endpoint = (self.config.endpoint or "").rstrip("/")
        defaults = ProjectXConfig()
        api = f"{endpoint}/api" if endpoint else defaults.api_url
        self._hub_url = f"{endpoint}/hubs/user" if endpoint else defaults.user_hub_url
        config = ProjectXConfig(api_url=api, user_hub_url=self._hub_url, requests_per_minute=10**9)
        if self._client is not None and self._client._client is not None:
            await self._client._client.aclose()
        self._client = ProjectX(credentials["username"], credentials["api_key"], config=config)
        answer = await self._send(
            "/Auth/loginKey",
            {"userName": credentials["username"], "apiKey": credentials["api_key"]},
            Priority.QUERY,
            check=False,
        )
        if answer is None or not answer.get("success") or not answer.get("token"):
            why = (answer or {}).get("errorMessage") or "invalid username or API key"
            raise BrokerFatal(f"ProjectX refused login {self.config.login_id}: {why}")
        self._use_token(str(answer["token"]))
        found = await self._send("/Account/search", {"onlyActiveAccounts": True}, Priority.QUERY)
        ids = {str(a["id"]) for a in (found or {}).get("accounts") or []}
        self.accounts = frozenset(a for a in self.config.accounts if a in ids)
        absent = sorted(set(self.config.accounts) - ids)
        if absent:
            logger.warning("ProjectX login %s: accounts %s not found", self.config.login_id, absent)
        await self._start_hub()

    def _use_token(self, token: str) -> None:
        """Send ``token`` from now on; its JWT ``exp`` says when to renew it."""
        assert self._client is not None
        self._client.session_token = token
        self._client.headers["Authorization"] = f"Bearer {token}"
        self._client._authenticated = True
        self._client.token_expiry = _jwt_expiry(token)

    async def _renew_token(self) -> None:
        """Renew the session token (``POST /Auth/validate``) when it expires
        within :data:`TOKEN_RENEW_BEFORE` (ProjectX tokens last about a day);
        a refused renewal takes the login down to log in again."""
        assert self._client is not None
        expiry = self._client.token_expiry
        if expiry is None or expiry - _now() > TOKEN_RENEW_BEFORE:
            return
        answer = await self._send("/Auth/validate", {}, Priority.QUERY, check=False)
        token = (answer or {}).get("newToken") or (answer or {}).get("token")
        if not (answer or {}).get("success") or not isinstance(token, str) or not token:
            self._set(ConnectionState.DOWN, "ProjectX session expired; logging in again")
            self._supervise()
            raise BrokerTemporaryError(f"ProjectX login {self.config.login_id}: session expired")
        self._use_token(token)

    async def _start_hub(self) -> None:
        assert self._client is not None
        token = self._client.session_token
        self._hub_open.clear()
        hub = SignalRClient(
            f"{self._hub_url}?access_token={token}",
            access_token_factory=lambda: token,
            retry_count=3,
            retry_sleep=BACKOFF_FIRST,
        )
        for target in HUB_EVENTS:
            hub.on(target, self._handler(target))
        hub.on_open(lambda: self._opened(hub))
        hub.on_close(self._closed)
        self._hub_error = None
        self._hub_task = asyncio.create_task(
            self._run_hub(hub), name=f"projectx-hub-{self.config.login_id}"
        )
        opened = asyncio.ensure_future(self._hub_open.wait())
        await asyncio.wait(
            {opened, self._hub_task}, timeout=HUB_OPEN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        opened.cancel()
        if not self._hub_open.is_set():
            self._hub_task.cancel()
            why = redact(str(self._hub_error or "timed out"))
            raise BrokerTemporaryError(
                f"ProjectX login {self.config.login_id}: user hub did not open: {why}"
            )

    def _handler(self, target: str) -> Callable[[Any], Awaitable[None]]:
        async def handle(arguments: Any) -> None:
            for argument in arguments if isinstance(arguments, list) else [arguments]:
                await self._on_event(target, argument)

        return handle

    async def _opened(self, hub: SignalRClient) -> None:
        await hub.send("SubscribeAccounts", [])
        for account in sorted(self.accounts):
            for method in ("SubscribeOrders", "SubscribePositions", "SubscribeTrades"):
                await hub.send(method, [int(account)])  # type: ignore[list-item]
        reconnected, self._opened_once = self._opened_once, True
        self._set(ConnectionState.CONNECTED)
        self._hub_open.set()
        await self._on_open_cb(reconnected)

    async def _closed(self) -> None:
        if not self._closing:
            self._set(ConnectionState.DOWN, "ProjectX user hub connection lost; reconnecting")

    async def _run_hub(self, hub: SignalRClient) -> None:
        try:
            await hub.run()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # pysignalr gave up (refused, retries spent)
            self._hub_error = exc
        if not self._closing and self._hub_open.is_set():
            # A live hub died: log in again with backoff (a start-up failure
            # is raised by _start_hub instead).
            self._hub_open.clear()
            self._set(ConnectionState.DOWN, f"ProjectX user hub failed: {self._hub_error}")
            self._supervise()

    def _supervise(self) -> None:
        if self._supervisor is None or self._supervisor.done():
            self._supervisor = asyncio.create_task(
                self._reconnect(), name=f"projectx-login-{self.config.login_id}"
            )

    async def _reconnect(self) -> None:
        delay = BACKOFF_FIRST
        while not self._closing:
            await asyncio.sleep(delay)
            try:
                await self._login_and_listen()
                return
            except BrokerFatal as exc:
                self._set(ConnectionState.FAILED, str(exc))
                return
            except BrokerTemporaryError as exc:
                self._set(ConnectionState.DOWN, f"{exc}; retrying in {delay:.1f} s")
                delay = min(delay * 2, BACKOFF_MAX)

    # -- requests -------------------------------------------------------------

    async def call(
        self, endpoint: str, payload: dict[str, Any], priority: Priority, *, key: str | None = None
    ) -> dict[str, Any] | None:
        """POST ``payload`` to ``endpoint`` once, after spending from the budget.

        Returns the answer (``success`` true), or ``None`` when a newer
        request with the same ``key`` superseded this one in the budget.
        Raises ``BrokerTemporaryError`` while the login is not connected, on
        a transport error or a 429; :class:`UncertainOutcomeError` when an
        order call may have reached ProjectX; ``BrokerRejected`` with
        ProjectX's message for a refusal.
        """
        if not self.connected:
            s = self._state
            raise BrokerTemporaryError(
                f"ProjectX login {self.config.login_id} is {s.state.value}: {s.detail}"
            )
        await self._renew_token()
        return await self._send(endpoint, payload, priority, key=key)

    async def _send(
        self,
        endpoint: str,
        payload: dict[str, Any],
        priority: Priority,
        *,
        key: str | None = None,
        check: bool = True,
    ) -> dict[str, Any] | None:
        if not await self.budget.spend(priority, key=key):
            return None
        assert self._client is not None
        where = f"ProjectX {endpoint} (login {self.config.login_id})"
        # Order calls go through _make_request, which makes one attempt and turns
        # any doubt into OrderSubmissionUncertainError; reads make one plain
        # attempt (_make_request would retry them with sleeps, 60 s after a 429).
        client = self._client
        try:
            if endpoint in MUTATING_ENDPOINTS:
                answer = await client._make_request("POST", endpoint, data=payload)
            else:
                # The SDK types its mixin methods' self as a protocol ProjectX meets.
                answer = await client._execute_http_request(  # type: ignore[misc]
                    "POST", endpoint, data=payload
                )
        except OrderSubmissionUncertainError as exc:
            raise UncertainOutcomeError(f"{where}: outcome unknown: {exc}") from exc
        except ProjectXRateLimitError as exc:
            raise BrokerTemporaryError(f"{where}: rate limited (429): {exc}") from exc
        except (ProjectXConnectionError, ProjectXServerError) as exc:
            raise BrokerTemporaryError(f"{where}: unreachable: {exc}") from exc
        except ProjectXAuthenticationError as exc:
            raise BrokerTemporaryError(f"{where}: session expired: {exc}") from exc
        except ProjectXError as exc:
            raise BrokerRejected(f"{where}: {exc}") from exc
        if not isinstance(answer, dict):
            raise BrokerTemporaryError(f"{where}: unexpected answer {type(answer).__name__}")
        if check and not answer.get("success"):
            code = answer.get("errorCode")
            raise BrokerRejected(f"ProjectX refused (code {code}): {answer.get('errorMessage')}")
        return answer


_TOKEN = re.compile(r"(access_token=)[^&\s'\"]+")


def redact(text: str) -> str:
    """``text`` with any hub URL's session token hidden (it rides in the URL)."""
    return _TOKEN.sub(r"\1<hidden>", text)


def _jwt_expiry(token: str) -> datetime | None:
    """The ``exp`` of a JWT as aware UTC, ``None`` when the token carries none."""
    parts = token.split(".")
    if len(parts) < 2:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        return datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def _now() -> datetime:
    return datetime.now(UTC)
