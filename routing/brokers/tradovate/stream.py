"""One login's websocket: authorize, user sync, props events, reconnects.

Source: Tradovate API documentation, "WebSockets" and "Real-Time User
Data": open ``<base>/websocket``, wait for ``o``, send ``authorize`` with the
access token, then ``user/syncrequest`` with ``{"users": [userId]}``; the
answer is a snapshot of the user's entities and ``props`` events follow for
every change. The client sends ``[]`` every 2.5 s; a server silent for
``silence_timeout`` seconds counts as lost. A lost socket puts the login
DOWN (with the reason and the retry delay) and reconnects with doubling
backoff; the fresh snapshot makes up for what was missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from routing.brokers.errors import BrokerError, BrokerFatal
from routing.brokers.tradovate.book import ENTITY_TYPES, Change, EntityBook
from routing.brokers.tradovate.protocol import frame_request, parse_frame
from routing.brokers.tradovate.session import TradovateSession

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.5  # "WebSockets": the client's [] heartbeat period

ChangeHandler = Callable[[TradovateSession, Change], Awaitable[None]]


class LoginRunner:
    """Keeps one login connected: log in, keep the token renewed, keep the
    sync stream open, hand every entity change to ``on_change``."""

    def __init__(
        self,
        session: TradovateSession,
        book: EntityBook,
        on_change: ChangeHandler,
        *,
        reconnect_delay: float = 1.0,
        reconnect_max: float = 30.0,
        silence_timeout: float = 10.0,
    ) -> None:
        self.session = session
        self.book = book
        self._on_change = on_change
        self._first_delay = reconnect_delay
        self._max_delay = reconnect_max
        self._silence = silence_timeout
        self._task: asyncio.Task[None] | None = None
        self._socket: ClientConnection | None = None
        self._synced = asyncio.Event()
        self._was_up = False

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(
                self._run(), name=f"tradovate-login-{self.session.config.login_id}"
            )

    async def wait_ready(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the first sync (or a failure)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._synced.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.session.close()

    async def _run(self) -> None:
        delay = self._first_delay
        renewing: asyncio.Task[None] | None = None
        try:
            while True:
                try:
                    if self.session.token is None:
                        await self.session.login()
                    if renewing is None or renewing.done():
                        renewing = asyncio.create_task(self._renew_forever())
                    await self._connect_and_pump()
                    reason = "Tradovate closed the websocket"
                except BrokerFatal as exc:
                    logger.warning("tradovate login stopped: %s", exc)
                    self._synced.set()
                    return
                except (OSError, TimeoutError, BrokerError, ValueError, KeyError) as exc:
                    reason = f"{type(exc).__name__}: {exc}"
                except websockets.WebSocketException as exc:
                    reason = f"websocket: {exc}"
                except Exception as exc:
                    # Crash-only: an unexpected error (a bug, a malformed answer)
                    # must not end the login silently; it reconnects, loudly.
                    logger.exception(
                        "tradovate login %s stream failed", self.session.config.login_id
                    )
                    reason = f"unexpected {type(exc).__name__}: {exc}"
                self._synced.set()  # connect() does not wait past the first attempt
                if self._was_up:  # a socket that worked starts the backoff again
                    delay, self._was_up = self._first_delay, False
                self.session.down(f"connection lost ({reason}); reconnecting in {delay:.1f} s")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_delay)
        finally:
            if renewing is not None:
                renewing.cancel()

    async def _renew_forever(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.session.renew_due_in()):
                    await self.session.renew_wanted.wait()  # a 401 renews at once
            try:
                await self.session.renew()
            except BrokerFatal as exc:
                logger.warning("tradovate token renewal refused: %s", exc)
                return
            except BrokerError as exc:
                logger.warning("tradovate token renewal failed, retried: %s", exc)
                await asyncio.sleep(5.0)

    async def _connect_and_pump(self) -> None:
        session = self.session
        async with connect(session.ws_url, open_timeout=self._silence) as socket:
            self._socket = socket
            try:
                await self._expect_open(socket)
                await self._request(socket, "authorize", 0, session.token or "")
                snapshot = await self._request(
                    socket, "user/syncrequest", 1, {"users": [session.user_id]}
                )
                await self._apply_snapshot(snapshot)
                self.book.primed = True
                session.stream_up = self._was_up = True
                session.refresh_state()
                self._synced.set()
                beat = asyncio.create_task(self._heartbeat(socket))
                try:
                    await self._pump(socket)
                finally:
                    beat.cancel()
            finally:
                self._socket = None
                session.stream_up = False

    async def _recv(self, socket: ClientConnection) -> str:
        async with asyncio.timeout(self._silence):
            message = await socket.recv()
        return message if isinstance(message, str) else message.decode()

    async def _expect_open(self, socket: ClientConnection) -> None:
        frame = parse_frame(await self._recv(socket))
        if frame.kind != "o":
            raise ValueError(f"expected Tradovate's open frame, got {frame.kind!r}")

    async def _request(
        self, socket: ClientConnection, endpoint: str, request_id: int, body: object
    ) -> Any:
        await socket.send(frame_request(endpoint, request_id, body))
        while True:
            frame = parse_frame(await self._recv(socket))
            for message in frame.messages:
                if isinstance(message, Mapping) and message.get("i") == request_id:
                    status = int(message.get("s", 0))
                    if status == 401:
                        # The token went stale: log in afresh on the next attempt.
                        self.session.token = None
                        raise BrokerError(f"Tradovate refused websocket {endpoint} (401)")
                    if status != 200:
                        raise BrokerError(f"Tradovate answered {status} to websocket {endpoint}")
                    return message.get("d")
                await self._event(message)
            if frame.kind == "c":
                raise BrokerError(f"Tradovate closed the websocket: {frame.messages}")

    async def _heartbeat(self, socket: ClientConnection) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await socket.send("[]")

    async def _pump(self, socket: ClientConnection) -> None:
        while True:
            frame = parse_frame(await self._recv(socket))
            if frame.kind == "c":
                return
            for message in frame.messages:
                await self._event(message)

    async def _apply_snapshot(self, snapshot: Any) -> None:
        if not isinstance(snapshot, Mapping):
            raise ValueError("Tradovate's user sync answer is not an object")
        # Contracts and commands first: fills and orders name them.
        for entity_type in ("contract", "command", "orderVersion", "order", "position", "fill"):
            for entity in snapshot.get(entity_type + "s", ()) or ():
                await self._handle(self.book.apply(entity_type, entity))
        await self.book.notify()

    async def _handle(self, change: Change) -> None:
        """Hand ``change`` on; when that fails, its fill is forgotten so the
        reconnect's snapshot delivers it again, and the error reconnects."""
        try:
            await self._on_change(self.session, change)
        except BaseException:
            if change.new_fill is not None:
                self.book.forget_fill(change.new_fill)
            raise

    async def _event(self, message: Any) -> None:
        if not isinstance(message, Mapping) or message.get("e") != "props":
            return
        data = message.get("d") or {}
        entity_type = data.get("entityType")
        if entity_type not in ENTITY_TYPES or data.get("eventType") == "Deleted":
            return
        try:
            change = self.book.apply(entity_type, data["entity"])
        except (KeyError, ValueError, TypeError) as exc:
            # A malformed push is logged with its text; the next snapshot
            # (reconnect) or a lookup restores the truth.
            logger.error(
                "tradovate %s event unreadable (%s): %s", entity_type, exc, json.dumps(data)[:300]
            )
            return
        await self._handle(change)
        await self.book.notify()
