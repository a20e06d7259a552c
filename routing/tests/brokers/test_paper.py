"""The paper broker: fills, slippage, idempotency, PnL, flatten, leader stream.

Contract figures from routing/contract_specs.py: MNQ tick 0.25 pt, $2/pt;
NQ tick 0.25 pt, $20/pt.
"""

from __future__ import annotations

import asyncio
import gc
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
import pytest_asyncio

from routing.brokers.base import BrokerAdapter, OrderRequest, OrderStatus, PositionSnapshot
from routing.brokers.errors import BrokerTemporaryError
from routing.brokers.paper import PaperBroker
from routing.contract_specs import SPECS_BY_ROOT
from routing.engine.positions import Position
from routing.engine.symbols import SymbolError
from routing.engine.types import LeaderFill, Side

T0 = datetime(2025, 3, 3, 14, 30, tzinfo=UTC)
ACCOUNT = "follower-1"


def _order(
    client_order_id: str,
    side: Side = Side.BUY,
    qty: int = 1,
    symbol: str = "MNQH5",
    reference_price: D | None = D("21539.50"),
    time: datetime | None = T0,
    account: str = ACCOUNT,
) -> OrderRequest:
    return OrderRequest(
        account=account,
        client_order_id=client_order_id,
        symbol=symbol,
        side=side,
        qty=qty,
        reference_price=reference_price,
        time=time,
    )


def _leader_fill(n: int, side: Side = Side.BUY, price: D = D("21539.50")) -> LeaderFill:
    return LeaderFill(
        event_id=f"leader-{n}",
        account="leader",
        symbol="MNQH5",
        side=side,
        qty=1,
        price=price,
        time=T0 + timedelta(seconds=n),
    )


@pytest_asyncio.fixture
async def broker() -> AsyncIterator[PaperBroker]:
    async with PaperBroker(SPECS_BY_ROOT, fill_id_prefix="paper-fill") as paper:
        yield paper


@pytest_asyncio.fixture
async def slippy() -> AsyncIterator[PaperBroker]:
    async with PaperBroker(SPECS_BY_ROOT, slippage_ticks=2, fill_id_prefix="paper-fill") as paper:
        yield paper


# -- fills and slippage ---------------------------------------------------------


@pytest.mark.asyncio
async def test_buy_fills_at_reference_plus_slippage(slippy: PaperBroker) -> None:
    # MNQ tick 0.25, 2 ticks against a buy: 21539.50 + 0.50 = 21540.00
    result = await slippy.place_order(_order("c1", Side.BUY, qty=2))

    assert result.status is OrderStatus.FILLED
    assert result.filled_qty == 2
    assert result.avg_price == D("21540.00")
    assert result.broker_order_id == "paper-order-1"
    assert result.reason == ""
    (fill,) = result.fills
    assert (fill.fill_id, fill.client_order_id, fill.account) == ("paper-fill-1", "c1", ACCOUNT)
    assert (fill.symbol, fill.side, fill.qty, fill.price, fill.time) == (
        "MNQH5",
        Side.BUY,
        2,
        D("21540.00"),
        T0,
    )
    assert slippy.position(ACCOUNT, "MNQH5") == Position(qty=2, avg_price=D("21540.00"))


@pytest.mark.asyncio
async def test_sell_fills_at_reference_minus_slippage(slippy: PaperBroker) -> None:
    # 21539.50 - 2 * 0.25 = 21539.00
    result = await slippy.place_order(_order("c1", Side.SELL))

    assert result.avg_price == D("21539.00")
    assert slippy.position(ACCOUNT, "MNQH5") == Position(qty=-1, avg_price=D("21539.00"))


@pytest.mark.asyncio
async def test_without_slippage_fills_at_reference_price(broker: PaperBroker) -> None:
    result = await broker.place_order(_order("c1"))

    assert result.avg_price == D("21539.50")


@pytest.mark.asyncio
async def test_ids_are_deterministic_in_send_order(broker: PaperBroker) -> None:
    first = await broker.place_order(_order("c1"))
    second = await broker.place_order(_order("c2", Side.SELL))

    assert [first.broker_order_id, second.broker_order_id] == ["paper-order-1", "paper-order-2"]
    assert [first.fills[0].fill_id, second.fills[0].fill_id] == ["paper-fill-1", "paper-fill-2"]


@pytest.mark.asyncio
async def test_fill_ids_differ_between_instances_as_after_a_restart() -> None:
    ids = []
    for _ in range(2):  # a stopped broker, then the one a restarted process builds
        async with PaperBroker(SPECS_BY_ROOT) as paper:
            ids.append((await paper.place_order(_order("c1"))).fills[0].fill_id)

    assert ids[0] != ids[1]
    for fill_id in ids:
        assert re.fullmatch(r"paper-[0-9a-f]{12}-1", fill_id), fill_id


def test_empty_fill_id_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="fill_id_prefix"):
        PaperBroker(SPECS_BY_ROOT, fill_id_prefix="")


@pytest.mark.asyncio
async def test_symbol_spellings_are_normalised(broker: PaperBroker) -> None:
    result = await broker.place_order(_order("c1", symbol="MNQ MAR25"))

    assert result.fills[0].symbol == "MNQH5"
    assert broker.position(ACCOUNT, "MNQH25") == Position(qty=1, avg_price=D("21539.50"))


@pytest.mark.asyncio
async def test_without_reference_price_fills_at_last_mark_with_slippage(
    slippy: PaperBroker,
) -> None:
    slippy.mark("MNQH5", D("21541.25"), T0)

    result = await slippy.place_order(_order("c1", reference_price=None))

    # 21541.25 + 2 * 0.25 = 21541.75
    assert result.avg_price == D("21541.75")


@pytest.mark.asyncio
async def test_without_time_fills_at_time_of_last_mark(broker: PaperBroker) -> None:
    broker.mark("MNQH5", D("21541.25"), T0 + timedelta(minutes=5))

    result = await broker.place_order(_order("c1", time=None))

    assert result.fills[0].time == T0 + timedelta(minutes=5)


@pytest.mark.asyncio
async def test_without_time_fills_at_time_of_last_fill(broker: PaperBroker) -> None:
    await broker.place_order(_order("c1", time=T0 + timedelta(seconds=7)))

    result = await broker.place_order(_order("c2", time=None))

    assert result.fills[0].time == T0 + timedelta(seconds=7)


# -- rejections -------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("order", "reason_code"),
    [
        (_order("c1", symbol="ZZH5"), "UNKNOWN_SYMBOL"),
        (_order("c1", symbol="not a contract"), "SYMBOL_UNREADABLE"),
        (_order("c1", qty=0), "QTY_NOT_POSITIVE"),
        (_order("c1", qty=-2), "QTY_NOT_POSITIVE"),
        (_order("c1", reference_price=None), "NO_PRICE"),
        (_order("c1", reference_price=D("NaN")), "PRICE_INVALID"),
        (_order("c1", time=None), "NO_TIME"),
    ],
)
async def test_bad_order_is_rejected_with_reason_and_changes_nothing(
    broker: PaperBroker, order: OrderRequest, reason_code: str
) -> None:
    result = await broker.place_order(order)

    assert result.status is OrderStatus.REJECTED
    assert result.reason.startswith(f"{reason_code}: ")
    assert (result.filled_qty, result.avg_price, result.fills) == (0, None, ())
    assert result.is_final
    assert await broker.positions(ACCOUNT) == []


@pytest.mark.asyncio
async def test_unknown_root_reason_names_the_symbol(broker: PaperBroker) -> None:
    result = await broker.place_order(_order("c1", symbol="ZZH5"))

    assert result.reason == "UNKNOWN_SYMBOL: root='ZZ' symbol='ZZH5' has no contract spec"


@pytest.mark.asyncio
async def test_root_missing_from_given_specs_is_rejected() -> None:
    async with PaperBroker({"MNQ": SPECS_BY_ROOT["MNQ"]}) as paper:
        result = await paper.place_order(_order("c1", symbol="NQH5"))

    assert result.status is OrderStatus.REJECTED
    assert result.reason.startswith("UNKNOWN_SYMBOL: root='NQ'")


@pytest.mark.asyncio
async def test_place_order_when_not_connected_then_temporary_error_and_nothing_recorded() -> None:
    paper = PaperBroker(SPECS_BY_ROOT)

    with pytest.raises(BrokerTemporaryError, match="not connected"):
        await paper.place_order(_order("c1"))

    await paper.connect()
    assert await paper.query_order(ACCOUNT, "c1") is None
    result = await paper.place_order(_order("c1"))  # the retry with the same id goes through
    assert result.status is OrderStatus.FILLED
    assert result.broker_order_id == "paper-order-1"


@pytest.mark.asyncio
async def test_every_broker_call_requires_a_connection(broker: PaperBroker) -> None:
    await broker.disconnect()

    with pytest.raises(BrokerTemporaryError):
        await broker.query_order(ACCOUNT, "c1")
    with pytest.raises(BrokerTemporaryError):
        await broker.positions(ACCOUNT)
    with pytest.raises(BrokerTemporaryError):
        await broker.flatten(ACCOUNT)
    with pytest.raises(BrokerTemporaryError):
        await anext(broker.leader_events("leader"))


# -- idempotency and query_order ------------------------------------------------------


@pytest.mark.asyncio
async def test_repeat_client_order_id_returns_first_result_and_sends_nothing(
    broker: PaperBroker,
) -> None:
    first = await broker.place_order(_order("c1", qty=2))

    again = await broker.place_order(_order("c1", qty=2))
    different = await broker.place_order(_order("c1", Side.SELL, qty=5, reference_price=D("1")))

    assert again == first
    assert different == first
    assert broker.position(ACCOUNT, "MNQH5") == Position(qty=2, avg_price=D("21539.50"))
    # nothing was sent: the next order still gets the next ids
    nxt = await broker.place_order(_order("c2"))
    assert (nxt.broker_order_id, nxt.fills[0].fill_id) == ("paper-order-2", "paper-fill-2")


@pytest.mark.asyncio
async def test_repeat_of_rejected_order_returns_the_rejection(broker: PaperBroker) -> None:
    first = await broker.place_order(_order("c1", symbol="ZZH5"))

    again = await broker.place_order(_order("c1"))

    assert again == first
    assert again.status is OrderStatus.REJECTED


@pytest.mark.asyncio
async def test_same_client_order_id_on_two_accounts_is_two_orders(broker: PaperBroker) -> None:
    a = await broker.place_order(_order("c1", account="a"))
    b = await broker.place_order(_order("c1", account="b"))

    assert a.broker_order_id != b.broker_order_id
    assert broker.position("a", "MNQH5").qty == 1
    assert broker.position("b", "MNQH5").qty == 1


@pytest.mark.asyncio
async def test_query_order(broker: PaperBroker) -> None:
    assert await broker.query_order(ACCOUNT, "c1") is None

    result = await broker.place_order(_order("c1"))

    assert await broker.query_order(ACCOUNT, "c1") == result
    assert await broker.query_order("other-account", "c1") is None


# -- latency -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_with_latency_order_is_working_until_it_fills() -> None:
    async with PaperBroker(SPECS_BY_ROOT, latency_seconds=0.05) as paper:
        pending = asyncio.create_task(paper.place_order(_order("c1")))
        await asyncio.sleep(0)

        working = await paper.query_order(ACCOUNT, "c1")
        assert working is not None
        assert (working.status, working.broker_order_id, working.filled_qty) == (
            OrderStatus.WORKING,
            "paper-order-1",
            0,
        )
        assert not working.is_final
        assert paper.position(ACCOUNT, "MNQH5").is_flat

        result = await pending
        assert result.status is OrderStatus.FILLED
        assert await paper.query_order(ACCOUNT, "c1") == result


@pytest.mark.asyncio
async def test_with_latency_concurrent_repeat_fills_once() -> None:
    async with PaperBroker(SPECS_BY_ROOT, latency_seconds=0.01) as paper:
        first, second = await asyncio.gather(
            paper.place_order(_order("c1")), paper.place_order(_order("c1"))
        )

        assert first == second
        assert paper.position(ACCOUNT, "MNQH5").qty == 1


@pytest.mark.asyncio
async def test_with_latency_concurrent_orders_fill_in_send_order() -> None:
    async with PaperBroker(
        SPECS_BY_ROOT, latency_seconds=0.01, fill_id_prefix="paper-fill"
    ) as paper:
        results = await asyncio.gather(*(paper.place_order(_order(f"c{n}")) for n in range(5)))

        assert [r.client_order_id for r in results] == [f"c{n}" for n in range(5)]
        assert [r.fills[0].fill_id for r in results] == [f"paper-fill-{n}" for n in range(1, 6)]


@pytest.mark.asyncio
async def test_burst_when_200_orders_sent_at_once_then_one_arrival_task_and_send_order() -> None:
    """A task per order in flight (and a wait on the one before it) cost the
    engine worker more than the simulated exchange's own work at 200
    followers: the orders in flight now arrive from one queue, by one task."""
    async with PaperBroker(SPECS_BY_ROOT, fill_id_prefix="paper-fill") as paper:
        before = asyncio.all_tasks()
        callers = [asyncio.create_task(paper.place_order(_order(f"c{n}"))) for n in range(200)]
        await asyncio.sleep(0)  # every caller has sent its order and waits for it
        in_flight = asyncio.all_tasks() - before - set(callers)

        results = await asyncio.gather(*callers)

        assert len(in_flight) == 1
        assert [r.status for r in results] == [OrderStatus.FILLED] * 200
        assert [r.fills[0].fill_id for r in results] == [f"paper-fill-{n}" for n in range(1, 201)]
        assert paper.position(ACCOUNT, "MNQH5").qty == 200
        # The next burst is arrived by a task of its own.
        assert (await paper.place_order(_order("c200"))).status is OrderStatus.FILLED


@pytest.mark.asyncio
async def test_cancelling_the_caller_does_not_cancel_a_sent_order() -> None:
    async with PaperBroker(SPECS_BY_ROOT, latency_seconds=0.02) as paper:
        caller = asyncio.create_task(paper.place_order(_order("c1")))
        await asyncio.sleep(0)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller

        result = await paper.place_order(_order("c1"))  # recovery: same id, waits for it

        assert result.status is OrderStatus.FILLED
        assert paper.position(ACCOUNT, "MNQH5").qty == 1


# -- PnL and positions ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_realized_pnl_in_dollars_uses_point_value(broker: PaperBroker) -> None:
    # NQ 1 lot: bought 21538.75, sold 21535.75: -3.00 pt * $20 = -60.00
    await broker.place_order(_order("c1", Side.BUY, symbol="NQH5", reference_price=D("21538.75")))
    await broker.place_order(_order("c2", Side.SELL, symbol="NQH5", reference_price=D("21535.75")))

    assert await broker.positions(ACCOUNT) == [
        PositionSnapshot(
            account=ACCOUNT,
            symbol="NQH5",
            qty=0,
            avg_price=D(0),
            realized_pnl=D("-60.00"),
            unrealized_pnl=D(0),
            mark=None,
        )
    ]


@pytest.mark.asyncio
async def test_unrealized_pnl_at_last_mark(broker: PaperBroker) -> None:
    # long 2 MNQ @ 21540.00, mark 21545.25: 5.25 pt * 2 * $2 = +21.00
    await broker.place_order(_order("c1", qty=2, reference_price=D("21540.00")))
    broker.mark("MNQH5", D("21545.25"), T0 + timedelta(seconds=1))

    (snapshot,) = await broker.positions(ACCOUNT)

    assert snapshot == PositionSnapshot(
        account=ACCOUNT,
        symbol="MNQH5",
        qty=2,
        avg_price=D("21540.00"),
        realized_pnl=D(0),
        unrealized_pnl=D("21.00"),
        mark=D("21545.25"),
    )


@pytest.mark.asyncio
async def test_positions_are_per_account_and_sorted_by_symbol(broker: PaperBroker) -> None:
    await broker.place_order(_order("c1", symbol="NQH5"))
    await broker.place_order(_order("c2", symbol="MNQH5"))
    await broker.place_order(_order("c3", symbol="ESH5", account="someone-else"))

    snapshots = await broker.positions(ACCOUNT)

    assert [s.symbol for s in snapshots] == ["MNQH5", "NQH5"]
    assert await broker.positions("nobody") == []


@pytest.mark.asyncio
async def test_position_helper_when_never_traded_is_flat(broker: PaperBroker) -> None:
    assert broker.position(ACCOUNT, "MNQH5") == Position()


# -- flatten ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_flatten_closes_every_position_at_last_mark(broker: PaperBroker) -> None:
    await broker.place_order(_order("c1", Side.BUY, qty=3, reference_price=D("21539.50")))
    await broker.place_order(_order("c2", Side.SELL, symbol="NQH5", reference_price=D("21538.75")))
    broker.mark("MNQH5", D("21541.50"), T0 + timedelta(seconds=10))
    broker.mark("NQH5", D("21535.75"), T0 + timedelta(seconds=11))

    results = await broker.flatten(ACCOUNT)

    assert [(r.client_order_id, r.status) for r in results] == [
        ("paper-flatten-1", OrderStatus.FILLED),
        ("paper-flatten-2", OrderStatus.FILLED),
    ]
    mnq_close, nq_close = (r.fills[0] for r in results)
    assert (mnq_close.symbol, mnq_close.side, mnq_close.qty, mnq_close.price) == (
        "MNQH5",
        Side.SELL,
        3,
        D("21541.50"),
    )
    assert (nq_close.symbol, nq_close.side, nq_close.qty, nq_close.price) == (
        "NQH5",
        Side.BUY,
        1,
        D("21535.75"),
    )
    assert mnq_close.time == T0 + timedelta(seconds=11)  # no time given: the last seen
    # MNQ long: (21541.50 - 21539.50) * 3 * $2 = +12.00
    # NQ short: (21535.75 - 21538.75) * -1 * $20 = +60.00
    snapshots = {s.symbol: s for s in await broker.positions(ACCOUNT)}
    assert {s.qty for s in snapshots.values()} == {0}
    assert snapshots["MNQH5"].realized_pnl == D("12.00")
    assert snapshots["NQH5"].realized_pnl == D("60.00")


@pytest.mark.asyncio
async def test_flatten_one_symbol_leaves_the_others(broker: PaperBroker) -> None:
    await broker.place_order(_order("c1", symbol="MNQH5"))
    await broker.place_order(_order("c2", symbol="NQH5"))
    broker.mark("NQH5", D("21540.00"), T0)

    (result,) = await broker.flatten(ACCOUNT, "NQ MAR25", time=T0 + timedelta(minutes=1))

    assert result.fills[0].symbol == "NQH5"
    assert result.fills[0].time == T0 + timedelta(minutes=1)
    assert broker.position(ACCOUNT, "NQH5").is_flat
    assert broker.position(ACCOUNT, "MNQH5").qty == 1


@pytest.mark.asyncio
async def test_flatten_applies_slippage(slippy: PaperBroker) -> None:
    await slippy.place_order(_order("c1", reference_price=D("21539.50")))  # fills 21540.00
    slippy.mark("MNQH5", D("21545.00"), T0)

    (result,) = await slippy.flatten(ACCOUNT)

    assert result.avg_price == D("21544.50")  # sell: 21545.00 - 2 * 0.25


@pytest.mark.asyncio
async def test_flatten_when_flat_sends_nothing(broker: PaperBroker) -> None:
    assert await broker.flatten(ACCOUNT) == []

    await broker.place_order(_order("c1", Side.BUY))
    await broker.place_order(_order("c2", Side.SELL))

    assert await broker.flatten(ACCOUNT) == []


@pytest.mark.asyncio
async def test_flatten_without_mark_is_rejected_and_position_stays(broker: PaperBroker) -> None:
    await broker.place_order(_order("c1", qty=2))

    (result,) = await broker.flatten(ACCOUNT)

    assert result.status is OrderStatus.REJECTED
    assert result.reason.startswith("NO_PRICE: ")
    assert broker.position(ACCOUNT, "MNQH5").qty == 2


@pytest.mark.asyncio
async def test_flatten_waits_for_orders_in_flight() -> None:
    async with PaperBroker(SPECS_BY_ROOT, latency_seconds=0.01) as paper:
        paper.mark("MNQH5", D("21540.00"), T0)
        in_flight = asyncio.create_task(paper.place_order(_order("c1", qty=2)))
        await asyncio.sleep(0)

        (result,) = await paper.flatten(ACCOUNT)

        assert (await in_flight).status is OrderStatus.FILLED
        assert result.filled_qty == 2
        assert paper.position(ACCOUNT, "MNQH5").is_flat


@pytest.mark.asyncio
async def test_flatten_unreadable_symbol_raises(broker: PaperBroker) -> None:
    with pytest.raises(SymbolError):
        await broker.flatten(ACCOUNT, "not a contract")


# -- leader stream -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_leader_events_yields_published_fills_in_order(broker: PaperBroker) -> None:
    fills = [_leader_fill(1), _leader_fill(2, Side.SELL), _leader_fill(3)]
    broker.publish_leader_fill(fills[0])  # before anyone listens: kept
    stream = broker.leader_events("leader")

    broker.publish_leader_fill(fills[1])
    broker.publish_leader_fill(fills[2])

    assert [await anext(stream) for _ in range(3)] == fills
    await stream.aclose()


@pytest.mark.asyncio
async def test_leader_events_are_per_account(broker: PaperBroker) -> None:
    other = LeaderFill("x-1", "other-leader", "MNQH5", Side.BUY, 1, D("21539.50"), T0)
    broker.publish_leader_fill(other)
    broker.publish_leader_fill(_leader_fill(1))

    stream = broker.leader_events("leader")

    assert (await anext(stream)).event_id == "leader-1"
    await stream.aclose()


@pytest.mark.asyncio
async def test_leader_events_wait_for_the_next_fill(broker: PaperBroker) -> None:
    stream = broker.leader_events("leader")
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0)
    assert not pending.done()

    broker.publish_leader_fill(_leader_fill(1))

    assert (await pending).event_id == "leader-1"
    await stream.aclose()


@pytest.mark.asyncio
async def test_leader_fill_sets_mark_and_time(broker: PaperBroker) -> None:
    broker.publish_leader_fill(_leader_fill(4, price=D("21550.25")))

    result = await broker.place_order(_order("c1", reference_price=None, time=None))

    assert broker.last_mark("MNQH5") == D("21550.25")
    assert (result.avg_price, result.fills[0].time) == (D("21550.25"), T0 + timedelta(seconds=4))


@pytest.mark.asyncio
async def test_disconnect_ends_stream_after_queued_fills_and_reconnect_streams_again(
    broker: PaperBroker,
) -> None:
    broker.publish_leader_fill(_leader_fill(1))
    received = []

    async def consume() -> None:
        async for fill in broker.leader_events("leader"):
            received.append(fill.event_id)

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0)
    broker.publish_leader_fill(_leader_fill(2))
    await broker.disconnect()
    await asyncio.wait_for(consumer, timeout=1)
    assert received == ["leader-1", "leader-2"]

    # published while disconnected, delivered by the next session's stream
    broker.publish_leader_fill(_leader_fill(3))
    await broker.connect()
    stream = broker.leader_events("leader")
    assert (await asyncio.wait_for(anext(stream), timeout=1)).event_id == "leader-3"
    await stream.aclose()


@pytest.mark.asyncio
async def test_stale_close_marker_does_not_end_a_new_stream(broker: PaperBroker) -> None:
    broker.leader_events("leader")  # never iterated
    broker.publish_leader_fill(_leader_fill(1))  # creates the queue
    await broker.disconnect()  # queues a close marker for this session, nobody reads it
    await broker.connect()
    broker.publish_leader_fill(_leader_fill(2))

    stream = broker.leader_events("leader")

    got = [(await asyncio.wait_for(anext(stream), timeout=1)).event_id for _ in range(2)]
    assert got == ["leader-1", "leader-2"]
    await stream.aclose()


# -- feed validation, construction, interface ----------------------------------------


def test_mark_rejects_float_naive_time_and_bad_symbol() -> None:
    paper = PaperBroker(SPECS_BY_ROOT)
    with pytest.raises(TypeError):
        paper.mark("MNQH5", 21539.5, T0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        paper.mark("MNQH5", D("Infinity"), T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        paper.mark("MNQH5", D("21539.50"), datetime(2025, 3, 3, 14, 30))
    with pytest.raises(SymbolError):
        paper.mark("??", D("1"), T0)
    assert paper.last_mark("MNQH5") is None


@pytest.mark.parametrize(
    "kwargs",
    [{"slippage_ticks": -1}, {"latency_seconds": -0.1}, {"latency_seconds": float("nan")}],
)
def test_constructor_rejects_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        PaperBroker(SPECS_BY_ROOT, **kwargs)  # type: ignore[arg-type]


def test_is_a_broker_adapter_with_platform_and_capabilities() -> None:
    paper = PaperBroker(SPECS_BY_ROOT)

    assert isinstance(paper, BrokerAdapter)
    assert PaperBroker.platform == "paper"
    assert PaperBroker.capabilities["market"] is True
    for feature in ("limit", "stop", "stop_limit", "bracket", "modify", "cancel"):
        assert PaperBroker.capabilities[feature] is True
    assert PaperBroker.capabilities["partial_fills"] is True
    assert PaperBroker.capabilities["order_updates"] is True
    assert PaperBroker.capabilities["stream_leader"] is True
    with pytest.raises(TypeError):
        PaperBroker.capabilities["limit"] = False  # type: ignore[index]


@pytest.mark.asyncio
async def test_connect_and_disconnect_are_idempotent() -> None:
    paper = PaperBroker(SPECS_BY_ROOT)
    assert not paper.connected

    await paper.connect()
    await paper.connect()
    assert paper.connected
    await paper.disconnect()
    await paper.disconnect()
    assert not paper.connected


@pytest.mark.asyncio
async def test_arrived_orders_keep_their_history_but_not_their_tasks(broker: PaperBroker) -> None:
    # Every order ever placed used to keep its asyncio task (coroutine, frame,
    # context) alive: memory that grew with every order, scanned by every
    # full garbage collection of the engine worker.
    for n in range(3):
        await broker.place_order(_order(f"c{n}"))
    gc.collect()
    executing = [
        o
        for o in gc.get_objects()
        if isinstance(o, asyncio.Task) and "_execute" in o.get_coro().__qualname__
    ]
    assert executing == []
    # The order history stays: each order can still be queried.
    for n in range(3):
        result = await broker.query_order(ACCOUNT, f"c{n}")
        assert result is not None and result.status is OrderStatus.FILLED
