"""One Rithmic login's connection: log in, watch the sockets, reconnect with backoff.

Crash-only: start-up and recovery share one path. Each attempt builds a
fresh SDK client (:func:`routing.brokers.rithmic.sdk.build_client`), logs
in on the order and PnL plants, subscribes to PnL updates and then calls
``on_connected`` (the adapter re-reads every account's orders, so fills
made while the socket was down are not lost). A lost socket puts the login
DOWN at once (requests then raise ``BrokerTemporaryError``, and a request
in flight is abandoned as *outcome unknown*: it is looked up later by its
client order id, never resent blind); a refused login puts it FAILED, with
no retry until the trader changes the login.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from async_rithmic import RithmicClient

from routing.brokers.errors import BrokerFatal, BrokerTemporaryError
from routing.brokers.logins import ConnectionState, LoginConfig, LoginState
from routing.brokers.rithmic.sdk import PLANTS, LoginRefused, build_client

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Seconds between reconnect attempts: the last one repeats.
RECONNECT_DELAYS: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0, 30.0)
WATCH_SECONDS = 0.05


class RithmicSession:
    """One login. ``on_notification(message)`` receives every order
    notification (ExchangeOrderNotification 352 and RithmicOrderNotification
    351), ``on_position(message)`` every
    PnL position update, ``on_connected(session)`` runs after each login."""

    def __init__(
        self,
        config: LoginConfig,
        *,
        app_name: str,
        app_version: str,
        ca_file: str | None,
        request_timeout: float,
        reconnect_delays: Sequence[float],
        on_notification: Callable[[Any], object],
        on_position: Callable[[Any], None],
        on_connected: Callable[[RithmicSession], Awaitable[None]],
    ) -> None:
        missing = [n for n in ("username", "password", "system") if not config.credentials.get(n)]
        url = config.endpoint or config.credentials.get("gateway") or ""
        if not url:
            missing.append("gateway")
        # A login that cannot even be tried fails at start, naming what lacks.
        self._invalid = f"credentials lack {', '.join(missing)}" if missing else None
        self.config = config
        self._url = url
        self._app = (app_name, app_version)
        self._ca_file = ca_file
        self._timeout = request_timeout
        self._delays = tuple(reconnect_delays) or RECONNECT_DELAYS
        self._on_notification = on_notification
        self._on_position = on_position
        self._on_connected = on_connected
        self.client: RithmicClient | None = None
        self.accounts: frozenset[str] = frozenset()
        self.state = LoginState(config.login_id, ConnectionState.CONNECTING, datetime.now(UTC))
        self._up = asyncio.Event()
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._first = asyncio.Event()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start the session and wait for its first attempt (success or not)."""
        if self._invalid is not None:
            self._set(ConnectionState.FAILED, self._invalid)
            return
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"rithmic-{self.config.login_id}")
        await self._first.wait()

    async def stop(self) -> None:
        """Log out and close; idempotent."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._teardown()

    def _set(self, state: ConnectionState, detail: str = "") -> None:
        password = self.config.credentials.get("password")
        if password:
            detail = detail.replace(password, "***")
        if state is not self.state.state or detail != self.state.detail:
            self.state = LoginState(self.config.login_id, state, datetime.now(UTC), detail)
            logger.info("rithmic login %s: %s %s", self.config.login_id, state.value, detail)

    @property
    def is_up(self) -> bool:
        return self.state.state is ConnectionState.CONNECTED and self._up.is_set()

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                await self._attempt()
                failures = 0
            except LoginRefused as exc:
                self._set(ConnectionState.FAILED, f"Rithmic refused the login: {exc}")
                await self._teardown()
                self._first.set()
                return
            except Exception as exc:
                await self._teardown()
                failures += 1
                self._set(
                    ConnectionState.DOWN,
                    f"cannot reach Rithmic ({type(exc).__name__}: {str(exc)[:120]}); "
                    f"retry {failures}",
                )
                self._first.set()
                await asyncio.sleep(self._delays[min(failures, len(self._delays)) - 1])
                continue
            self._first.set()
            await self._watch()
            self._up.clear()
            self._lost.set()
            self._set(ConnectionState.DOWN, "connection to Rithmic lost; reconnecting")
            await self._teardown()
            await asyncio.sleep(self._delays[0])

    async def _attempt(self) -> None:
        self._set(ConnectionState.CONNECTING)
        user, password = self.config.credentials["username"], self.config.credentials["password"]
        client = build_client(
            login_id=self.config.login_id,
            user=user,
            password=password,
            system_name=self.config.credentials["system"],
            url=self._url,
            app_name=self._app[0],
            app_version=self._app[1],
            ca_file=self._ca_file,
            request_timeout=self._timeout,
        )
        client.on_exchange_order_notification += self._on_notification
        client.on_rithmic_order_notification += self._on_notification
        client.on_instrument_pnl_update += self._on_position
        self.client = client
        await asyncio.wait_for(
            client.connect(plants=PLANTS, plant_connect_delay=0), timeout=self._timeout * 3
        )
        await client.plants["pnl"].subscribe_to_pnl_updates()
        self.accounts = frozenset(a.account_id for a in client.plants["order"].accounts or ())
        self._lost.clear()
        self._up.set()
        # Connected before the re-read: the re-read's own requests need it.
        self._set(ConnectionState.CONNECTED)
        await self._on_connected(self)

    async def _watch(self) -> None:
        """Return when a plant's socket closes."""
        assert self.client is not None
        plants = [self.client.plants["order"], self.client.plants["pnl"]]
        # The SDK signals a closed socket on no public event: poll its state.
        while all(p.is_connected for p in plants):  # noqa: ASYNC110
            await asyncio.sleep(WATCH_SECONDS)

    async def _teardown(self) -> None:
        self._up.clear()
        client, self.client = self.client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            await client.disconnect(timeout=2.0)
        # The SDK's disconnect skips plants whose socket is already closed:
        # their background tasks are stopped here.
        for plant in client.plants.values():
            with contextlib.suppress(Exception):
                await plant._stop_background_tasks()

    # -- requests ----------------------------------------------------------------------

    def require_up(self, account: str) -> RithmicClient:
        """The connected client, or ``BrokerFatal`` (login failed) /
        ``BrokerTemporaryError`` (not connected now)."""
        state = self.state
        if state.state is ConnectionState.FAILED:
            raise BrokerFatal(f"Rithmic login {state.login_id} failed: {state.detail}")
        if not self.is_up or self.client is None:
            raise BrokerTemporaryError(
                f"Rithmic login {state.login_id} for account {account} is "
                f"{state.state.value}: {state.detail or 'not connected yet'}"
            )
        return self.client

    async def call(
        self, what: str, request: Coroutine[Any, Any, T], *, answer: int | None = None
    ) -> T:
        """Run one SDK request; a lost socket or no answer within the request
        timeout raises ``BrokerTemporaryError`` (outcome unknown). ``answer``
        names a read's final response template: a refusal of it (which the
        SDK returns as an empty list) raises ``BrokerTemporaryError`` too, so
        "refused" is never read as "none". Conservative: a refusal of a
        concurrent read with the same template fails this one as well."""
        if not self._up.is_set() or self.client is None:
            request.close()
            raise BrokerTemporaryError(f"{what}: Rithmic login {self.config.login_id} is down")
        plants = [self.client.plants["order"], self.client.plants["pnl"]]
        refused = [p.refused_reads.get(answer, 0) for p in plants] if answer else []
        task = asyncio.ensure_future(request)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if task not in done:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
            raise BrokerTemporaryError(f"{what}: connection to Rithmic lost; outcome unknown")
        try:
            result = task.result()
        except TimeoutError as exc:
            raise BrokerTemporaryError(f"{what}: no answer from Rithmic; outcome unknown") from exc
        except (RuntimeError, OSError) as exc:
            raise BrokerTemporaryError(f"{what}: {exc}") from exc
        except Exception as exc:
            if type(exc).__module__.startswith("websockets"):
                raise BrokerTemporaryError(f"{what}: connection to Rithmic lost") from exc
            raise
        if answer and [p.refused_reads.get(answer, 0) for p in plants] != refused:
            raise BrokerTemporaryError(f"{what}: refused by Rithmic (see the log); retry later")
        return result
