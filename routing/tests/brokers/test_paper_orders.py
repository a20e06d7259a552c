"""The paper broker as a simulated exchange: working orders on a price feed.

Limit, stop and stop-limit triggering, partial fills by volume, brackets and
OCO, modify, cancel, rejections on demand, leader order events, flatten and
the order update stream. Figures are hand-computed from
routing/contract_specs.py: MNQ tick 0.25 pt, $2/pt; NQ tick 0.25 pt, $20/pt.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import pytest_asyncio

from routing.brokers.base import OrderRequest, OrderResult, OrderStatus, OrderType
from routing.brokers.paper import PaperBroker
from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.positions import Position
from routing.engine.types import LeaderFill, LeaderOrder, LeaderOrderAction, Side

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
ACCOUNT = "follower-1"
BUY, SELL = Side.BUY, Side.SELL
LIMIT, STOP, STOP_LIMIT, MARKET = (
    OrderType.LIMIT,
    OrderType.STOP,
    OrderType.STOP_LIMIT,
    OrderType.MARKET,
)


def t(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _req(
    client_order_id: str,
    side: Side = BUY,
    qty: int = 1,
    order_type: OrderType = LIMIT,
    *,
    limit: str | None = None,
    stop: str | None = None,
    sl: str | None = None,
    tp: str | None = None,
    ref: str | None = None,
    symbol: str = "MNQH5",
    account: str = ACCOUNT,
    time: datetime | None = T0,
) -> OrderRequest:
    def dec(text: str | None) -> D | None:
        return None if text is None else D(text)

    return OrderRequest(
        account=account,
        client_order_id=client_order_id,
        symbol=symbol,
        side=side,
        qty=qty,
        order_type=order_type,
        reference_price=dec(ref),
        time=time,
        limit_price=dec(limit),
        stop_price=dec(stop),
        stop_loss=dec(sl),
        take_profit=dec(tp),
    )


async def _query(broker: PaperBroker, client_order_id: str, account: str = ACCOUNT) -> OrderResult:
    result = await broker.query_order(account, client_order_id)
    assert result is not None, f"{client_order_id} unknown"
    return result


async def _drain[T](broker: PaperBroker, stream: AsyncIterator[T]) -> list[T]:
    """Everything queued on ``stream``: iterate it while connected, then disconnect."""
    items: list[T] = []

    async def consume() -> None:
        async for item in stream:
            items.append(item)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    await broker.disconnect()
    await asyncio.wait_for(consumer, timeout=1)
    return items


def _summary(result: OrderResult) -> tuple[str, OrderStatus, int, D | None]:
    return (result.client_order_id, result.status, result.filled_qty, result.avg_price)


@pytest_asyncio.fixture
async def broker() -> AsyncIterator[PaperBroker]:
    async with PaperBroker(SPECS_BY_ROOT, fill_id_prefix="paper-fill") as paper:
        paper.mark("MNQH5", D("21540.00"), T0)
        yield paper


@pytest_asyncio.fixture
async def slippy() -> AsyncIterator[PaperBroker]:
    async with PaperBroker(
        SPECS_BY_ROOT, slippage_ticks=2, fill_id_prefix="paper-fill"
    ) as paper:  # 2 x 0.25 = 0.50 pt
        paper.mark("MNQH5", D("21540.00"), T0)
        yield paper


# -- limit orders ---------------------------------------------------------------------


@pytest.mark.asyncio
async def test_buy_limit_below_mark_rests_then_fills_at_its_limit(broker: PaperBroker) -> None:
    # Arrange
    placed = await broker.place_order(_req("c1", BUY, 2, limit="21538.00"))
    assert _summary(placed) == ("c1", OrderStatus.WORKING, 0, None)
    assert placed.broker_order_id == "paper-order-1"

    # Act / Assert: above the limit nothing happens
    broker.mark("MNQH5", D("21538.25"), t(1))
    assert (await _query(broker, "c1")).status is OrderStatus.WORKING
    assert broker.position(ACCOUNT, "MNQH5").is_flat

    # a print through the limit fills a resting limit at the limit, not the print
    broker.mark("MNQH5", D("21537.50"), t(2))
    filled = await _query(broker, "c1")
    assert _summary(filled) == ("c1", OrderStatus.FILLED, 2, D("21538.00"))
    (fill,) = filled.fills
    assert (fill.fill_id, fill.side, fill.qty, fill.price, fill.time) == (
        "paper-fill-1",
        BUY,
        2,
        D("21538.00"),
        t(2),
    )
    assert broker.position(ACCOUNT, "MNQH5") == Position(qty=2, avg_price=D("21538.00"))


@pytest.mark.asyncio
async def test_sell_limit_fills_when_mark_reaches_it_exactly(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", SELL, limit="21542.00"))

    broker.mark("MNQH5", D("21541.75"), t(1))
    assert (await _query(broker, "c1")).status is OrderStatus.WORKING

    broker.mark("MNQH5", D("21542.00"), t(2))
    assert _summary(await _query(broker, "c1")) == ("c1", OrderStatus.FILLED, 1, D("21542.00"))
    assert broker.position(ACCOUNT, "MNQH5").qty == -1


@pytest.mark.asyncio
async def test_marketable_limit_fills_at_once_at_the_mark_without_slippage(
    slippy: PaperBroker,
) -> None:
    # mark 21540.00: a buy limit at 21541.00 and a sell limit at 21539.00 both cross
    buy = await slippy.place_order(_req("b", BUY, limit="21541.00"))
    sell = await slippy.place_order(_req("s", SELL, limit="21539.00"))

    assert _summary(buy) == ("b", OrderStatus.FILLED, 1, D("21540.00"))
    assert _summary(sell) == ("s", OrderStatus.FILLED, 1, D("21540.00"))
    assert buy.fills[0].time == T0  # the order's time


@pytest.mark.asyncio
async def test_without_a_mark_a_limit_just_rests() -> None:
    async with PaperBroker(SPECS_BY_ROOT) as paper:
        placed = await paper.place_order(_req("c1", BUY, limit="21538.00"))
        assert placed.status is OrderStatus.WORKING

        paper.mark("MNQH5", D("21539.00"), t(1))
        assert (await _query(paper, "c1")).status is OrderStatus.WORKING
        paper.mark("MNQH5", D("21538.00"), t(2))
        assert (await _query(paper, "c1")).avg_price == D("21538.00")


@pytest.mark.asyncio
async def test_leader_fill_print_works_resting_orders(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", BUY, 3, limit="21538.00"))

    # the leader traded 1 lot, but leader prints are not volume-capped
    broker.publish_leader_fill(LeaderFill("L1", "leader", "MNQH5", SELL, 1, D("21537.75"), t(4)))

    result = await _query(broker, "c1")
    assert _summary(result) == ("c1", OrderStatus.FILLED, 3, D("21538.00"))
    assert result.fills[0].time == t(4)


# -- stop and stop-limit orders ---------------------------------------------------------


@pytest.mark.asyncio
async def test_buy_stop_triggers_at_stop_and_fills_at_print_plus_slippage(
    slippy: PaperBroker,
) -> None:
    placed = await slippy.place_order(_req("c1", BUY, order_type=STOP, stop="21542.00"))
    assert placed.status is OrderStatus.WORKING

    slippy.mark("MNQH5", D("21541.75"), t(1))
    assert (await _query(slippy, "c1")).status is OrderStatus.WORKING

    slippy.mark("MNQH5", D("21542.50"), t(2))
    # 21542.50 + 2 ticks x 0.25 = 21543.00
    result = await _query(slippy, "c1")
    assert _summary(result) == ("c1", OrderStatus.FILLED, 1, D("21543.00"))
    assert result.fills[0].time == t(2)


@pytest.mark.asyncio
async def test_sell_stop_triggers_and_fills_at_print_minus_slippage(slippy: PaperBroker) -> None:
    await slippy.place_order(_req("c1", SELL, order_type=STOP, stop="21538.00"))

    slippy.mark("MNQH5", D("21538.25"), t(1))
    assert (await _query(slippy, "c1")).status is OrderStatus.WORKING

    slippy.mark("MNQH5", D("21537.75"), t(2))
    # 21537.75 - 0.50 = 21537.25
    assert (await _query(slippy, "c1")).avg_price == D("21537.25")
    assert slippy.position(ACCOUNT, "MNQH5") == Position(qty=-1, avg_price=D("21537.25"))


@pytest.mark.asyncio
@pytest.mark.parametrize("stop", ["21540.00", "21539.00"])
async def test_buy_stop_at_or_below_mark_triggers_at_once(slippy: PaperBroker, stop: str) -> None:
    result = await slippy.place_order(_req("c1", BUY, order_type=STOP, stop=stop))

    # triggered by the mark 21540.00: market at 21540.00 + 0.50
    assert _summary(result) == ("c1", OrderStatus.FILLED, 1, D("21540.50"))


@pytest.mark.asyncio
async def test_stop_limit_triggers_and_fills_on_the_same_print_at_the_print(
    slippy: PaperBroker,
) -> None:
    await slippy.place_order(
        _req("c1", BUY, order_type=STOP_LIMIT, stop="21542.00", limit="21543.00")
    )
    slippy.mark("MNQH5", D("21541.75"), t(1))
    assert (await _query(slippy, "c1")).status is OrderStatus.WORKING

    slippy.mark("MNQH5", D("21542.50"), t(2))

    # the stop traded; the limit 21543.00 is marketable at 21542.50: fills there, no slippage
    assert _summary(await _query(slippy, "c1")) == ("c1", OrderStatus.FILLED, 1, D("21542.50"))


@pytest.mark.asyncio
async def test_stop_limit_gapped_past_its_limit_rests_as_a_limit(broker: PaperBroker) -> None:
    await broker.place_order(
        _req("c1", BUY, order_type=STOP_LIMIT, stop="21542.00", limit="21542.25")
    )

    broker.mark("MNQH5", D("21543.00"), t(1))  # triggers; 21543.00 is above the limit
    assert (await _query(broker, "c1")).status is OrderStatus.WORKING

    # below the stop now: an untriggered stop-limit would ignore this print
    broker.mark("MNQH5", D("21541.50"), t(2))
    assert _summary(await _query(broker, "c1")) == ("c1", OrderStatus.FILLED, 1, D("21542.25"))


# -- validation -----------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("order", "reason_code"),
    [
        (_req("c1", order_type=LIMIT), "LIMIT_PRICE_MISSING"),
        (_req("c1", order_type=STOP), "STOP_PRICE_MISSING"),
        (_req("c1", order_type=STOP_LIMIT, stop="21542.00"), "LIMIT_PRICE_MISSING"),
        (_req("c1", order_type=STOP_LIMIT, limit="21542.00"), "STOP_PRICE_MISSING"),
        (_req("c1", order_type=MARKET, limit="21542.00", ref="21540"), "PRICE_UNEXPECTED"),
        (_req("c1", order_type=LIMIT, limit="21542.00", stop="21541.00"), "PRICE_UNEXPECTED"),
        (_req("c1", limit="21538.10"), "PRICE_OFF_TICK"),
        (_req("c1", limit="NaN"), "PRICE_INVALID"),
        (_req("c1", BUY, limit="21538.00", sl="21538.00"), "BRACKET_STOP_LOSS_WRONG_SIDE"),
        (_req("c1", BUY, limit="21538.00", tp="21537.00"), "BRACKET_TAKE_PROFIT_WRONG_SIDE"),
        (_req("c1", SELL, limit="21542.00", sl="21541.00"), "BRACKET_STOP_LOSS_WRONG_SIDE"),
        (_req("c1", SELL, limit="21542.00", tp="21543.00"), "BRACKET_TAKE_PROFIT_WRONG_SIDE"),
        (
            _req("c1", BUY, order_type=STOP, stop="21545", sl="21546"),
            "BRACKET_STOP_LOSS_WRONG_SIDE",
        ),
        (
            _req("c1", BUY, order_type=MARKET, ref="21540", sl="21541"),
            "BRACKET_STOP_LOSS_WRONG_SIDE",
        ),
        (_req("c1", BUY, limit="21538.00", tp="21550.10"), "PRICE_OFF_TICK"),
        (_req("c1", BUY, limit="21538.00", time=None), "NO_TIME"),
    ],
)
async def test_bad_working_order_is_rejected_and_rests_nowhere(
    order: OrderRequest, reason_code: str
) -> None:
    async with PaperBroker(SPECS_BY_ROOT) as paper:  # no mark: NO_TIME can be reached
        result = await paper.place_order(order)
        paper.mark("MNQH5", D("21500.00"), t(1))  # would fill any resting buy limit

        assert result.status is OrderStatus.REJECTED
        assert result.reason.startswith(f"{reason_code}: ")
        assert await _query(paper, "c1") == result
        assert await paper.positions(ACCOUNT) == []


@pytest.mark.asyncio
async def test_wrong_side_reason_names_the_prices(broker: PaperBroker) -> None:
    result = await broker.place_order(_req("c1", BUY, limit="21538.00", sl="21539.00"))

    assert result.reason == (
        "BRACKET_STOP_LOSS_WRONG_SIDE: a buy needs stop_loss below the entry, "
        "got stop_loss=21539.00 entry=21538.00"
    )


# -- partial fills by volume -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_volume_fills_two_orders_first_come_first_served(broker: PaperBroker) -> None:
    await broker.place_order(_req("a", BUY, 2, limit="21538.00"))
    await broker.place_order(_req("b", BUY, 3, limit="21539.00"))  # better price, but later

    broker.mark("MNQH5", D("21538.00"), t(1), volume=3)

    assert _summary(await _query(broker, "a")) == ("a", OrderStatus.FILLED, 2, D("21538.00"))
    b = await _query(broker, "b")
    assert _summary(b) == ("b", OrderStatus.PARTIALLY_FILLED, 1, D("21539.00"))
    assert not b.is_final

    broker.mark("MNQH5", D("21538.75"), t(2), volume=1)
    assert (await _query(broker, "b")).filled_qty == 2

    broker.mark("MNQH5", D("21538.75"), t(3))  # no volume given: no cap
    b = await _query(broker, "b")
    assert _summary(b) == ("b", OrderStatus.FILLED, 3, D("21539.00"))
    assert [f.fill_id for f in b.fills] == ["paper-fill-2", "paper-fill-3", "paper-fill-4"]
    assert [f.time for f in b.fills] == [t(1), t(2), t(3)]
    # 2 @ 21538.00 + 3 @ 21539.00 = 107693.00 / 5 = 21538.60
    assert broker.position(ACCOUNT, "MNQH5") == Position(qty=5, avg_price=D("21538.60"))


@pytest.mark.asyncio
async def test_stop_triggered_without_volume_fills_at_the_next_print(slippy: PaperBroker) -> None:
    await slippy.place_order(_req("c1", BUY, 2, order_type=STOP, stop="21542.00"))

    slippy.mark("MNQH5", D("21542.00"), t(1), volume=0)  # triggers, nothing can fill
    assert (await _query(slippy, "c1")).filled_qty == 0

    slippy.mark("MNQH5", D("21541.00"), t(2), volume=1)  # below the stop: still a market
    slippy.mark("MNQH5", D("21541.50"), t(3))

    result = await _query(slippy, "c1")
    assert [(f.qty, f.price) for f in result.fills] == [(1, D("21541.50")), (1, D("21542.00"))]
    assert result.status is OrderStatus.FILLED


def test_mark_rejects_a_bad_volume() -> None:
    paper = PaperBroker(SPECS_BY_ROOT)
    with pytest.raises(ValueError, match=">= 0"):
        paper.mark("MNQH5", D("21540.00"), T0, volume=-1)
    with pytest.raises(TypeError, match="int"):
        paper.mark("MNQH5", D("21540.00"), T0, volume=1.5)  # type: ignore[arg-type]


# -- brackets ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_market_bracket_creates_exits_and_take_profit_cancels_stop_loss(
    broker: PaperBroker,
) -> None:
    entry = await broker.place_order(
        _req("c1", BUY, 2, MARKET, ref="21540.00", sl="21535.00", tp="21550.00")
    )
    assert _summary(entry) == ("c1", OrderStatus.FILLED, 2, D("21540.00"))
    sl, tp = await _query(broker, "c1:sl"), await _query(broker, "c1:tp")
    assert (sl.status, sl.broker_order_id) == (OrderStatus.WORKING, "paper-order-2")
    assert (tp.status, tp.broker_order_id) == (OrderStatus.WORKING, "paper-order-3")

    broker.mark("MNQH5", D("21549.75"), t(1))
    assert (await _query(broker, "c1:tp")).status is OrderStatus.WORKING
    broker.mark("MNQH5", D("21550.00"), t(2))

    tp = await _query(broker, "c1:tp")
    assert _summary(tp) == ("c1:tp", OrderStatus.FILLED, 2, D("21550.00"))
    assert tp.fills[0].side is SELL
    sl = await _query(broker, "c1:sl")
    assert (sl.status, sl.filled_qty, sl.reason) == (
        OrderStatus.CANCELLED,
        0,
        "OCO_CANCEL: c1:tp filled",
    )
    # (21550.00 - 21540.00) x 2 x $2 = +40.00
    assert broker.position(ACCOUNT, "MNQH5") == Position(0, D(0), D("40.00"))
    broker.mark("MNQH5", D("21530.00"), t(3))  # the cancelled stop must not fire
    assert broker.position(ACCOUNT, "MNQH5").qty == 0


@pytest.mark.asyncio
async def test_partial_take_profit_shrinks_the_stop_loss(broker: PaperBroker) -> None:
    await broker.place_order(
        _req("c1", BUY, 3, MARKET, ref="21540.00", sl="21530.00", tp="21550.00")
    )

    broker.mark("MNQH5", D("21550.00"), t(1), volume=1)
    tp = await _query(broker, "c1:tp")
    assert (tp.status, tp.filled_qty) == (OrderStatus.PARTIALLY_FILLED, 1)

    broker.mark("MNQH5", D("21530.00"), t(2))

    sl = await _query(broker, "c1:sl")
    assert _summary(sl) == ("c1:sl", OrderStatus.FILLED, 2, D("21530.00"))  # 3 - 1, not 3
    tp = await _query(broker, "c1:tp")
    assert (tp.status, tp.filled_qty, tp.reason) == (
        OrderStatus.CANCELLED,
        1,
        "OCO_CANCEL: c1:sl filled",
    )
    # tp: +10.00 x 1 x $2 = +20.00; sl: -10.00 x 2 x $2 = -40.00
    assert broker.position(ACCOUNT, "MNQH5") == Position(0, D(0), D("-20.00"))


@pytest.mark.asyncio
async def test_exits_grow_with_each_partial_entry_fill(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", BUY, 3, limit="21538.00", sl="21530.00", tp="21546.00"))
    assert await broker.query_order(ACCOUNT, "c1:sl") is None  # no exits before a fill

    broker.mark("MNQH5", D("21538.00"), t(1), volume=1)
    assert (await _query(broker, "c1:tp")).status is OrderStatus.WORKING
    broker.mark("MNQH5", D("21538.00"), t(2), volume=2)
    assert (await _query(broker, "c1")).status is OrderStatus.FILLED

    broker.mark("MNQH5", D("21546.00"), t(3))

    assert _summary(await _query(broker, "c1:tp")) == (
        "c1:tp",
        OrderStatus.FILLED,
        3,
        D("21546.00"),
    )
    assert broker.position(ACCOUNT, "MNQH5").qty == 0


@pytest.mark.asyncio
async def test_cancelled_entry_keeps_exits_for_the_filled_part(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", BUY, 3, limit="21538.00", sl="21530.00", tp="21546.00"))
    broker.mark("MNQH5", D("21538.00"), t(1), volume=1)

    cancelled = await broker.cancel_order(ACCOUNT, "c1")

    assert cancelled is not None
    assert _summary(cancelled) == ("c1", OrderStatus.CANCELLED, 1, D("21538.00"))
    assert (await _query(broker, "c1:sl")).status is OrderStatus.WORKING
    broker.mark("MNQH5", D("21530.00"), t(2))
    assert _summary(await _query(broker, "c1:sl")) == (
        "c1:sl",
        OrderStatus.FILLED,
        1,
        D("21530.00"),
    )
    assert broker.position(ACCOUNT, "MNQH5").qty == 0


@pytest.mark.asyncio
async def test_completed_exit_cancels_the_unfilled_entry(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", BUY, 3, limit="21538.00", sl="21530.00", tp="21546.00"))
    broker.mark("MNQH5", D("21538.00"), t(1), volume=1)

    broker.mark("MNQH5", D("21546.00"), t(2))

    entry = await _query(broker, "c1")
    assert (entry.status, entry.filled_qty) == (OrderStatus.CANCELLED, 1)
    assert entry.reason.startswith("BRACKET_EXIT: c1:tp filled")
    assert (await _query(broker, "c1:sl")).status is OrderStatus.CANCELLED
    broker.mark("MNQH5", D("21537.00"), t(3))  # would have filled the entry's other 2
    assert broker.position(ACCOUNT, "MNQH5").qty == 0


@pytest.mark.asyncio
async def test_exit_marketable_when_created_fills_on_the_same_print(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", BUY, order_type=STOP, stop="21542.00", tp="21544.00"))

    broker.mark("MNQH5", D("21545.00"), t(1))  # gaps through the stop and the take profit

    assert (await _query(broker, "c1")).avg_price == D("21545.00")
    assert _summary(await _query(broker, "c1:tp")) == (
        "c1:tp",
        OrderStatus.FILLED,
        1,
        D("21545.00"),
    )


# -- modify -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_modify_price_through_the_mark_fills_at_once(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", BUY, 2, limit="21538.00"))

    result = await broker.modify_order(ACCOUNT, "c1", limit_price=D("21541.00"), time=t(5))

    assert result is not None
    assert _summary(result) == ("c1", OrderStatus.FILLED, 2, D("21540.00"))  # at the mark
    assert result.fills[0].time == t(5)


@pytest.mark.asyncio
async def test_modify_qty_not_above_filled_is_refused_and_order_unchanged(
    broker: PaperBroker,
) -> None:
    await broker.place_order(_req("c1", BUY, 3, limit="21538.00"))
    broker.mark("MNQH5", D("21538.00"), t(1), volume=2)

    refused = await broker.modify_order(ACCOUNT, "c1", qty=1)

    assert refused is not None
    assert (refused.status, refused.filled_qty) == (OrderStatus.PARTIALLY_FILLED, 2)
    assert refused.reason.startswith("MODIFY_QTY_NOT_ABOVE_FILLED: qty=1 filled_qty=2")
    assert (await _query(broker, "c1")).reason == ""
    broker.mark("MNQH5", D("21538.00"), t(2))  # still 3 in total: 1 more fills
    assert _summary(await _query(broker, "c1")) == ("c1", OrderStatus.FILLED, 3, D("21538.00"))


@pytest.mark.asyncio
async def test_modify_qty_changes_what_fills(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", BUY, 1, limit="21538.00"))

    changed = await broker.modify_order(ACCOUNT, "c1", qty=4)
    broker.mark("MNQH5", D("21537.00"), t(1))

    assert changed is not None and changed.status is OrderStatus.WORKING
    assert (await _query(broker, "c1")).filled_qty == 4
    assert broker.position(ACCOUNT, "MNQH5").qty == 4


@pytest.mark.asyncio
async def test_modify_that_grows_an_order_loses_time_priority(broker: PaperBroker) -> None:
    await broker.place_order(_req("a", BUY, 1, limit="21538.00"))
    await broker.place_order(_req("b", BUY, 1, limit="21538.00"))
    await broker.modify_order(ACCOUNT, "a", qty=2)

    broker.mark("MNQH5", D("21538.00"), t(1), volume=1)

    assert (await _query(broker, "a")).filled_qty == 0
    assert (await _query(broker, "b")).filled_qty == 1


@pytest.mark.asyncio
async def test_modify_refusals_and_no_ops(broker: PaperBroker) -> None:
    await broker.place_order(_req("lim", BUY, limit="21538.00"))
    await broker.place_order(_req("stp", BUY, order_type=STOP, stop="21545.00"))

    wrong = await broker.modify_order(ACCOUNT, "lim", stop_price=D("21541.00"))
    off_tick = await broker.modify_order(ACCOUNT, "stp", stop_price=D("21545.10"))
    same = await broker.modify_order(ACCOUNT, "lim", limit_price=D("21538.00"))

    assert wrong is not None and wrong.reason.startswith("MODIFY_PRICE_NOT_APPLICABLE: ")
    assert off_tick is not None and off_tick.reason.startswith("PRICE_OFF_TICK: ")
    assert same == await _query(broker, "lim")
    assert await broker.modify_order(ACCOUNT, "never-sent", qty=2) is None
    broker.mark("MNQH5", D("21541.00"), t(1))  # the refused stop change left the stop at 21545
    assert (await _query(broker, "stp")).status is OrderStatus.WORKING


@pytest.mark.asyncio
async def test_modify_a_final_order_returns_it_unchanged(broker: PaperBroker) -> None:
    filled = await broker.place_order(_req("c1", BUY, limit="21541.00"))

    again = await broker.modify_order(ACCOUNT, "c1", qty=5, limit_price=D("21500.00"))

    assert again == filled
    assert broker.position(ACCOUNT, "MNQH5").qty == 1


@pytest.mark.asyncio
async def test_modify_stop_of_a_triggered_stop_limit_is_refused(broker: PaperBroker) -> None:
    await broker.place_order(
        _req("c1", BUY, order_type=STOP_LIMIT, stop="21542.00", limit="21542.25")
    )
    broker.mark("MNQH5", D("21543.00"), t(1))  # triggered, resting as a limit

    result = await broker.modify_order(ACCOUNT, "c1", stop_price=D("21544.00"))

    assert result is not None
    assert result.reason.startswith("MODIFY_ALREADY_TRIGGERED: ")


# -- cancel -----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_cancel_twice_keeps_the_fills_and_is_safe(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", BUY, 2, limit="21538.00"))
    broker.mark("MNQH5", D("21538.00"), t(1), volume=1)

    first = await broker.cancel_order(ACCOUNT, "c1")
    second = await broker.cancel_order(ACCOUNT, "c1")

    assert first is not None
    assert _summary(first) == ("c1", OrderStatus.CANCELLED, 1, D("21538.00"))
    assert first.reason == "USER_CANCEL: cancelled by request"
    assert second == first
    broker.mark("MNQH5", D("21537.00"), t(2))
    assert broker.position(ACCOUNT, "MNQH5").qty == 1


@pytest.mark.asyncio
async def test_cancel_unknown_or_filled(broker: PaperBroker) -> None:
    filled = await broker.place_order(_req("c1", BUY, order_type=MARKET, ref="21540"))

    assert await broker.cancel_order(ACCOUNT, "nope") is None
    assert await broker.cancel_order(ACCOUNT, "c1") == filled


@pytest.mark.asyncio
async def test_cancel_waits_for_an_order_in_flight() -> None:
    async with PaperBroker(SPECS_BY_ROOT, latency_seconds=0.02) as paper:
        paper.mark("MNQH5", D("21540.00"), T0)
        in_flight = asyncio.create_task(paper.place_order(_req("c1", BUY, limit="21538.00")))
        await asyncio.sleep(0)

        cancelled = await paper.cancel_order(ACCOUNT, "c1")

        assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
        await in_flight
        assert (await _query(paper, "c1")).status is OrderStatus.CANCELLED
        paper.mark("MNQH5", D("21537.00"), t(1))
        assert paper.position(ACCOUNT, "MNQH5").is_flat


# -- idempotency --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_repeat_of_a_resting_order_returns_its_current_state(broker: PaperBroker) -> None:
    first = await broker.place_order(_req("c1", BUY, 2, limit="21538.00"))

    again = await broker.place_order(_req("c1", SELL, 9, limit="21545.00"))
    assert again == first
    broker.mark("MNQH5", D("21538.00"), t(1))
    later = await broker.place_order(_req("c1", BUY, 2, limit="21538.00"))

    assert _summary(later) == ("c1", OrderStatus.FILLED, 2, D("21538.00"))
    assert broker.position(ACCOUNT, "MNQH5").qty == 2
    nxt = await broker.place_order(_req("c2", BUY, limit="21500.00"))
    assert nxt.broker_order_id == "paper-order-2"


# -- rejections on demand -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_reject_orders_for_an_account_then_allow_again(broker: PaperBroker) -> None:
    broker.reject_orders(ACCOUNT, reason="margin call")

    refused = await broker.place_order(_req("c1", BUY, order_type=MARKET, ref="21540"))
    other = await broker.place_order(
        _req("c1", BUY, order_type=MARKET, ref="21540", account="other")
    )
    broker.allow_orders(ACCOUNT)
    accepted = await broker.place_order(_req("c2", BUY, order_type=MARKET, ref="21540"))

    assert (refused.status, refused.reason) == (OrderStatus.REJECTED, "RISK_REJECT: margin call")
    assert other.status is OrderStatus.FILLED
    assert accepted.status is OrderStatus.FILLED


@pytest.mark.asyncio
async def test_reject_orders_by_symbol_root(broker: PaperBroker) -> None:
    broker.reject_orders(ACCOUNT, "NQH5", reason="no NQ today")  # the root: every NQ month

    nq = await broker.place_order(_req("c1", BUY, order_type=MARKET, ref="21540", symbol="NQM5"))
    mnq = await broker.place_order(_req("c2", BUY, order_type=MARKET, ref="21540", symbol="MNQH5"))
    broker.allow_orders(ACCOUNT, "NQ")
    nq_again = await broker.place_order(
        _req("c3", BUY, order_type=MARKET, ref="21540", symbol="NQM5")
    )

    assert nq.reason == "RISK_REJECT: no NQ today"
    assert mnq.status is OrderStatus.FILLED
    assert nq_again.status is OrderStatus.FILLED


@pytest.mark.asyncio
async def test_rejection_applies_to_exits_and_flatten(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", BUY, 2, limit="21538.00", sl="21530.00", tp="21546.00"))
    broker.reject_orders(ACCOUNT, reason="halted")

    broker.mark("MNQH5", D("21538.00"), t(1))  # the entry was accepted earlier: it fills
    (close,) = await broker.flatten(ACCOUNT)

    assert (await _query(broker, "c1")).status is OrderStatus.FILLED
    for exit_id in ("c1:sl", "c1:tp"):
        exit_result = await _query(broker, exit_id)
        assert (exit_result.status, exit_result.reason) == (
            OrderStatus.REJECTED,
            "RISK_REJECT: halted",
        )
    assert (close.status, close.reason) == (OrderStatus.REJECTED, "RISK_REJECT: halted")
    assert broker.position(ACCOUNT, "MNQH5").qty == 2


# -- flatten ----------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_flatten_cancels_working_orders_before_closing(broker: PaperBroker) -> None:
    await broker.place_order(_req("c1", BUY, 2, MARKET, ref="21540.00", sl="21530.00"))
    await broker.place_order(_req("c2", BUY, 1, limit="21538.00"))
    await broker.place_order(_req("nq", BUY, 1, limit="21500.00", symbol="NQH5"))

    (close,) = await broker.flatten(ACCOUNT, "MNQH5", time=t(1))

    assert (close.status, close.filled_qty, close.fills[0].side) == (OrderStatus.FILLED, 2, SELL)
    for client_order_id in ("c1:sl", "c2"):
        cancelled = await _query(broker, client_order_id)
        assert cancelled.status is OrderStatus.CANCELLED
        assert cancelled.reason == "FLATTEN_CANCEL: flatten of MNQH5"
    assert (await _query(broker, "nq")).status is OrderStatus.WORKING  # other symbol
    broker.mark("MNQH5", D("21529.00"), t(2))  # would trigger the stop loss and fill c2
    assert broker.position(ACCOUNT, "MNQH5").qty == 0


# -- order updates ----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_order_updates_yield_every_change_in_order(broker: PaperBroker) -> None:
    # nobody is listening yet: not buffered
    await broker.place_order(_req("before", BUY, order_type=MARKET, ref="21540"))
    stream = broker.order_updates()

    await broker.place_order(_req("c1", BUY, 3, limit="21538.00"))
    broker.mark("MNQH5", D("21538.00"), t(1), volume=1)
    await broker.modify_order(ACCOUNT, "c1", qty=2)
    await broker.modify_order(ACCOUNT, "c1", qty=1)  # refused: nothing changes
    await broker.cancel_order(ACCOUNT, "c1")
    await broker.place_order(_req("c2", BUY, 1, MARKET, ref="21540.00", sl="21530.00"))
    await broker.place_order(_req("c3", BUY, limit="1.10"))
    updates = [_summary(update) for update in await _drain(broker, stream)]

    assert updates == [
        ("c1", OrderStatus.WORKING, 0, None),
        ("c1", OrderStatus.PARTIALLY_FILLED, 1, D("21538.00")),
        ("c1", OrderStatus.PARTIALLY_FILLED, 1, D("21538.00")),  # qty 3 -> 2
        ("c1", OrderStatus.CANCELLED, 1, D("21538.00")),
        ("c2", OrderStatus.FILLED, 1, D("21540.00")),
        ("c2:sl", OrderStatus.WORKING, 0, None),
        ("c3", OrderStatus.REJECTED, 0, None),
    ]


@pytest.mark.asyncio
async def test_order_updates_need_a_connection() -> None:
    paper = PaperBroker(SPECS_BY_ROOT)

    with pytest.raises(Exception, match="not connected"):
        await anext(paper.order_updates())


# -- leader working orders ------------------------------------------------------------------


def _event_row(event: LeaderFill | LeaderOrder) -> tuple[object, ...]:
    if isinstance(event, LeaderFill):
        return ("fill", event.event_id, event.order_id, event.seq, event.side, event.qty,
                event.price, event.time)  # fmt: skip
    return (event.action, event.event_id, event.order_id, event.seq, event.side, event.qty,
            event.order_type, event.limit_price, event.stop_price, event.time)  # fmt: skip


@pytest.mark.asyncio
async def test_watched_leader_publishes_orders_fills_and_exits_with_seq(
    broker: PaperBroker,
) -> None:
    # Arrange: a fill before watching is not published
    await broker.place_order(_req("early", BUY, order_type=MARKET, ref="21540", account="leader"))
    broker.watch_leader("leader")
    entry = _req("c1", BUY, 2, limit="21538.00", sl="21530.00", tp="21546.00", time=t(1))

    # Act
    await broker.place_order(dataclasses.replace(entry, account="leader"))
    await broker.modify_order("leader", "c1", limit_price=D("21538.50"), time=t(2))
    broker.mark("MNQH5", D("21538.50"), t(3))
    await broker.cancel_order("leader", "c1:sl", time=t(4))
    market = _req("m1", SELL, 1, MARKET, ref="21541.00", account="leader", time=t(5))
    await broker.place_order(market)
    await broker.place_order(_req("x", BUY, limit="21500.00"))  # another account: not published
    events = await _drain(broker, broker.leader_events("leader"))

    # Assert
    new, modify, cancel = LeaderOrderAction.NEW, LeaderOrderAction.MODIFY, LeaderOrderAction.CANCEL
    price = D("21538.50")
    assert [_event_row(event) for event in events] == [
        (new, "c1:new", "c1", 1, BUY, 2, LIMIT, D("21538.00"), None, t(1)),
        (modify, "c1:modify:1", "c1", 2, BUY, 2, LIMIT, price, None, t(2)),
        ("fill", "paper-fill-2", "c1", 3, BUY, 2, price, t(3)),
        (new, "c1:sl:new", "c1:sl", 4, SELL, 2, STOP, None, D("21530.00"), t(3)),
        (new, "c1:tp:new", "c1:tp", 5, SELL, 2, LIMIT, D("21546.00"), None, t(3)),
        (cancel, "c1:sl:cancel", "c1:sl", 6, SELL, 2, STOP, None, D("21530.00"), t(4)),
        ("fill", "paper-fill-3", "m1", 7, SELL, 1, D("21541.00"), t(5)),
    ]
    assert events[0] == LeaderOrder(
        event_id="c1:new",
        order_id="c1",
        account="leader",
        action=new,
        symbol="MNQH5",
        side=BUY,
        qty=2,
        order_type=LIMIT,
        time=t(1),
        limit_price=D("21538.00"),
        stop_loss=D("21530.00"),
        take_profit=D("21546.00"),
        seq=1,
    )
    assert isinstance(events[3], LeaderOrder)
    assert (events[3].stop_loss, events[3].take_profit) == (None, None)
    # The exits name their entry, so they are never mirrored as orders of their own.
    assert [(e.order_id, e.parent_order_id) for e in events if isinstance(e, LeaderOrder)] == [
        ("c1", None),
        ("c1", None),
        ("c1:sl", "c1"),
        ("c1:tp", "c1"),
        ("c1:sl", "c1"),
    ]
    assert not events[0].is_bracket_exit and events[3].is_bracket_exit


@pytest.mark.asyncio
async def test_watched_leader_exit_resize_is_a_modify_event(broker: PaperBroker) -> None:
    broker.watch_leader("leader")
    await broker.place_order(_req("c1", BUY, 2, limit="21538.00", tp="21546.00", account="leader"))
    broker.mark("MNQH5", D("21538.00"), t(1), volume=1)
    broker.mark("MNQH5", D("21538.00"), t(2), volume=1)

    events = await _drain(broker, broker.leader_events("leader"))

    assert [(e.event_id, e.seq, e.qty) for e in events] == [
        ("c1:new", 1, 2),
        ("paper-fill-1", 2, 1),
        ("c1:tp:new", 3, 1),
        ("paper-fill-2", 4, 1),
        ("c1:tp:modify:1", 5, 2),  # grown with the entry's second fill
    ]


@pytest.mark.asyncio
async def test_published_leader_fills_keep_their_own_fields(broker: PaperBroker) -> None:
    broker.watch_leader("leader")
    replayed = LeaderFill("replay-1", "leader", "MNQH5", BUY, 1, D("21539.00"), t(1), seq=41)

    broker.publish_leader_fill(replayed)

    assert await _drain(broker, broker.leader_events("leader")) == [replayed]
