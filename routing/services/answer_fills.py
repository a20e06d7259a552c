"""The fills of an event's broker answers, stored with their positions.

:func:`answer_fills_record` turns the fills of a batch of answers into the
journal's fills, each on its order's account (a fill in another contract
under that contract when it has a spec), and stores them
(:func:`journal.fills.fills_record`); :func:`answer_fill_keys` names the
same fills before the orders are locked, so their reads can go to the
server with the locks (:func:`routing.services.answer_locks.answers_reads`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from journal.fills import FillConflict, FillInput, fills_record
from routing.brokers.base import BrokerFill, OrderResult
from routing.engine.symbols import root_of
from routing.models import ContractSpec, CopyOrder
from routing.services.order_findings import contract_code


def answer_fill_keys(
    orders: Mapping[int, CopyOrder],
    results: Sequence[tuple[int, OrderResult]],
    leader_fills: Iterable[FillInput] = (),
) -> list[tuple[int, str, str]]:
    """``(account id, broker fill id, contract)`` of every fill
    :func:`answer_fills_record` stores for ``results`` (``(copy order id,
    answer)``, each order in ``orders``) and ``leader_fills``, when every
    contract a fill names has a spec (the specs are read with the locks:
    a fill without one is named here and not stored there)."""
    keys = [(f.account_id, f.broker_fill_id, f.symbol) for f in leader_fills]
    for order_id, result in results:
        order = orders[order_id]
        for fill in result.fills:
            symbol = _contract(order, fill)
            if symbol is not None:
                keys.append((order.account_id, fill.fill_id, symbol))
    return keys


def answer_fills_record(
    orders: Mapping[int, CopyOrder],
    results: Sequence[tuple[int, OrderResult]],
    specs: Mapping[str, ContractSpec],
    leader_fills: Mapping[int, FillInput],
) -> tuple[dict[str, str], dict[int, list[FillConflict]], list[FillConflict]]:
    """Store every fill of ``results`` on its order's account, and the
    pending ``leader_fills``; returns the fills that could not be stored:
    ``(fill id -> why, copy order id -> conflicts, every conflict)``, the
    first for fills in an unreadable contract or one without a spec (no
    point value, so no honest PnL), the others for fill ids the account
    already has with other content (the leaders' for
    :func:`routing.services.leader_fills.leader_fills_apply`)."""
    unrecorded: dict[str, str] = {}
    inputs: list[FillInput] = []
    for order_id, result in results:
        order = orders[order_id]
        for fill in result.fills:
            symbol = _contract(order, fill)
            if symbol is None:
                unrecorded[fill.fill_id] = f"contract {fill.symbol!r} unreadable"
                continue
            if fill.symbol != order.symbol and root_of(symbol) not in specs:
                unrecorded[fill.fill_id] = f"no contract spec for {root_of(symbol)}"
                continue
            inputs.append(
                FillInput(
                    account_id=order.account_id,
                    broker_fill_id=fill.fill_id,
                    symbol=symbol,
                    side=fill.side.value,
                    qty=fill.qty,
                    price=fill.price,
                    point_value=specs[root_of(symbol)].point_value,
                    filled_at=fill.time,
                    copy_order_id=order.pk,
                )
            )
    reused: dict[int, list[FillConflict]] = defaultdict(list)
    # The leaders' fills came first: journaled first.
    conflicts = fills_record([*leader_fills.values(), *inputs]).conflicts
    for conflict in conflicts:
        if conflict.received.copy_order_id is not None:
            reused[conflict.received.copy_order_id].append(conflict)
    return unrecorded, reused, conflicts


def _contract(order: CopyOrder, fill: BrokerFill) -> str | None:
    """The contract ``fill`` of ``order`` is stored under: the order's, or
    the one the fill names when it differs (``None``: unreadable)."""
    return order.symbol if fill.symbol == order.symbol else contract_code(fill.symbol)
