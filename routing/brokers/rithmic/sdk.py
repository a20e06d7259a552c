"""The async-rithmic SDK, set up for one login: TLS, plants, logs without secrets.

async-rithmic (PyPI ``async-rithmic`` 1.6.6, github.com/rundef/async_rithmic)
speaks R|Protocol: protobuf messages over a TLS websocket, one websocket per
"plant" (order, PnL, ticker, history). Copytrade uses the order plant
(orders, order notifications, accounts), the PnL plant (positions) and,
for market data on a connection of its own, the ticker plant (last trades).

Three things the SDK does that a copier cannot accept are adjusted here,
on the SDK's own objects, without patching its code:

- Its TLS context trusts only the certificate it ships for Rithmic's
  servers (``async_rithmic/certificates``, loaded in ``client.py``
  ``_setup_ssl_context``); ``ca_file`` replaces ``client.ssl_context`` (the
  plants read it at connect) so tests reach a local fake server.
- A refused login reply (R|Protocol ResponseLogin with ``rp_code`` other
  than "0") is only logged by the SDK and surfaces as an ``AttributeError``
  on a missing response; :class:`GuardedOrderPlant` and
  :class:`GuardedPnlPlant` (and :class:`GuardedTickerPlant`) record the
  refusal and raise :class:`LoginRefused`. Refused order requests are
  recorded by their ``user_tag`` / ``basket_id`` for the same reason, and
  refused market data subscriptions by their request id.
- Its debug log prints every request, the login's password included:
  :class:`RedactSecrets` rewrites those records on the plants' loggers.

Reconnection is the adapter's (:mod:`routing.brokers.rithmic.session`): the
SDK's own reconnect loop is given zero retries, so a lost socket is seen at
once and a fresh client logs in again through the same path as start-up.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any

from async_rithmic import ReconnectionSettings, RetrySettings, RithmicClient
from async_rithmic import protocol_buffers as pb
from async_rithmic.enums import DataType, SysInfraType
from async_rithmic.plants.order import OrderPlant
from async_rithmic.plants.pnl import PnlPlant
from async_rithmic.plants.ticker import TickerPlant

# R|Protocol template ids (the SDK's TEMPLATES_MAP in plants/base.py).
RESPONSE_LOGIN = 11
RESPONSE_NEW_ORDER = 313
RESPONSE_MODIFY_ORDER = 315
RESPONSE_CANCEL_ORDER = 317
RESPONSE_SHOW_ORDERS = 321
RESPONSE_ORDER_HISTORY = 325
RESPONSE_PNL_SNAPSHOT = 403
REQUEST_MARKET_DATA = 100
RESPONSE_MARKET_DATA = 101


class LoginRefused(Exception):
    """Rithmic refused the login (bad user, password or system); the text is
    Rithmic's ``rp_code`` reason, never the credentials."""


class RedactSecrets(logging.Filter):
    """Replace ``secrets`` in a record's message with ``***`` and drop an
    exception whose text holds one (the SDK logs whole requests)."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(s in message for s in self._secrets):
            for secret in self._secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if any(s in text for s in self._secrets):
                record.exc_info = None
                record.msg = f"{record.msg} (exception text withheld: it held a credential)"
        return True


class _Guard:
    """Mixin over an SDK plant: records refusals the SDK would only log."""

    request_manager: Any
    login_refused: str | None = None

    def _guard_init(self) -> None:
        self.login_refused = None
        # template id -> refusals seen: a refused read returns an empty list
        # from the SDK, which must not be taken for "no orders" / "flat".
        self.refused_reads: dict[int, int] = {}
        # user_tag (new orders) or basket id (modify, cancel) -> refusal text
        self.refusals: dict[str, str] = {}

    async def _process_response(self, response: Any) -> Any:
        template = response.template_id
        codes = list(getattr(response, "rp_code", []) or [])
        refused = bool(codes) and codes[0] != "0"
        # rp_code "7" is "no data": an empty answer, not a refusal.
        if refused and codes[0] != "7":
            self.refused_reads[template] = self.refused_reads.get(template, 0) + 1
        if refused and template in (
            RESPONSE_LOGIN,
            RESPONSE_NEW_ORDER,
            RESPONSE_MODIFY_ORDER,
            RESPONSE_CANCEL_ORDER,
            RESPONSE_MARKET_DATA,
        ):
            text = " ".join(codes[1:]) or f"rp_code {codes[0]}"
            request_id = response.user_msg[0] if response.user_msg else None
            if template == RESPONSE_LOGIN:
                self.login_refused = text
            elif template == RESPONSE_NEW_ORDER:
                self.refusals[response.user_tag] = text
            elif template == RESPONSE_MARKET_DATA:
                if request_id:
                    self.refusals[request_id] = text
            elif response.basket_id:
                self.refusals[response.basket_id] = text
            if request_id and self.request_manager.has_pending(request_id):
                self.request_manager.mark_complete(request_id)
            return True
        return await super()._process_response(response)  # type: ignore[misc]

    async def _login(self) -> None:
        try:
            await super()._login()  # type: ignore[misc]
        except Exception as exc:
            if self.login_refused is not None:
                raise LoginRefused(self.login_refused) from None
            raise exc


class GuardedOrderPlant(_Guard, OrderPlant):
    """The SDK's order plant, recording refusals (see module docstring)."""

    def __init__(self, client: RithmicClient, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._guard_init()


class GuardedPnlPlant(_Guard, PnlPlant):
    """The SDK's PnL plant, recording a refused login."""

    def __init__(self, client: RithmicClient, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._guard_init()


class GuardedTickerPlant(_Guard, TickerPlant):
    """The SDK's ticker plant, recording a refused login and refused
    market data subscriptions."""

    def __init__(self, client: RithmicClient, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self._guard_init()

    async def last_trades(
        self, symbol: str, exchange: str, *, subscribe: bool, wait: float
    ) -> str | None:
        """Subscribe to (``subscribe``) or unsubscribe from one contract's
        last trades and wait for Rithmic's answer.

        R|Protocol RequestMarketDataUpdate (template 100) with
        ``update_bits`` LAST_TRADE (1), answered by ResponseMarketDataUpdate
        (101) echoing ``user_msg``; trades then arrive as LastTrade (150) on
        the client's ``on_tick`` event. (The SDK's own
        ``subscribe_to_market_data`` does not wait for the answer, so a
        refusal would go unseen.) Returns Rithmic's refusal text, or
        ``None`` when accepted. Raises ``TimeoutError`` when no answer comes
        within ``wait`` seconds, and the SDK's send errors (a closed
        socket) as they are.
        """
        request_id = self._generate_request_id()
        kind = pb.request_market_data_update_pb2.RequestMarketDataUpdate.Request
        await self.request_manager.send_and_collect(
            timeout=wait,
            user_msg=request_id,
            template_id=REQUEST_MARKET_DATA,
            expected_response={"template_id": RESPONSE_MARKET_DATA},
            symbol=symbol,
            exchange=exchange,
            request=kind.SUBSCRIBE if subscribe else kind.UNSUBSCRIBE,
            update_bits=DataType.LAST_TRADE.value,
        )
        return self.refusals.pop(request_id, None)


def build_client(
    *,
    login_id: int,
    user: str,
    password: str,
    system_name: str,
    url: str,
    app_name: str,
    app_version: str,
    ca_file: str | None,
    request_timeout: float,
) -> RithmicClient:
    """An SDK client for one login, not yet connected.

    ``url`` is the gateway (``wss://host:port``); ``ca_file`` a PEM file of
    certificates to trust instead of the SDK's bundled Rithmic one;
    ``request_timeout`` seconds the SDK waits for a request's answers.
    """
    suffix = f".login{login_id}"
    client = RithmicClient(
        user=user,
        password=password,
        system_name=system_name,
        app_name=app_name,
        app_version=app_version,
        url=url,
        logger_name_suffix=suffix,
        reconnection_settings=ReconnectionSettings(
            max_retries=0, backoff_type="constant", interval=0
        ),
        retry_settings=RetrySettings(max_retries=1, timeout=request_timeout, jitter_range=None),
    )
    if ca_file is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(ca_file)
        client.ssl_context = context
    client.plants["order"] = GuardedOrderPlant(client, logger_name_suffix=suffix)
    client.plants["pnl"] = GuardedPnlPlant(client, logger_name_suffix=suffix)
    client.plants["ticker"] = GuardedTickerPlant(client, logger_name_suffix=suffix)
    redact = RedactSecrets([password])
    for plant in client.plants.values():
        for existing in list(plant.logger.filters):
            if isinstance(existing, RedactSecrets):
                plant.logger.removeFilter(existing)
        plant.logger.addFilter(redact)
    # The request manager logs whole requests (the login's password) on its
    # plant's logger too: the filter above covers it.
    return client


PLANTS = [SysInfraType.ORDER_PLANT, SysInfraType.PNL_PLANT]
