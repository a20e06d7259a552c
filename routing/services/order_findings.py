"""What in a broker's answer to a copy order is an incident.

Pure functions of the order and the answer (and the group's slippage limit),
so the recording transaction finds the same incidents however often an
answer is recorded: the order REJECTED; a fill in another contract than the
order's; more contracts executed than ordered (a duplicate execution); a
market copy whose average fill is more than the group's
``max_slippage_ticks`` from the leader's fill price (the rule and its
wording are the engine's, :func:`routing.engine.watch.slippage_finding`); a
fill whose broker id the account already has with other content (found by
:func:`journal.fills.fills_record`, passed in as ``reused``).
:func:`routing.services.incidents.order_incidents_record` records them (each
locks the route at level 4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from journal.fills import FillConflict
from routing.brokers.base import OrderResult, OrderStatus, OrderType
from routing.engine.conversion import same_underlying
from routing.engine.symbols import SymbolError, parse_contract, root_of
from routing.engine.watch import slippage_finding
from routing.models import ContractSpec, CopyOrder, Incident


def contract_code(symbol: str) -> str | None:
    """The normalised contract code of ``symbol``; ``None`` when unreadable."""
    try:
        return parse_contract(symbol).code
    except SymbolError:
        return None


@dataclass(frozen=True, slots=True)
class Finding:
    """One incident found in a broker answer: kind, sentence, figures."""

    kind: Incident.Kind
    detail: str
    numbers: dict[str, Any]


def findings_of(
    order: CopyOrder,
    result: OrderResult,
    specs: Mapping[str, ContractSpec],
    *,
    unrecorded: Mapping[str, str] | None = None,
    reused: Sequence[FillConflict] = (),
) -> list[Finding]:
    """What in ``result`` is an incident for ``order``; a pure function of
    the two (and the group's slippage limit), so the unlocked pre-check and
    the locked check agree. ``unrecorded`` (fill id -> why) names fills left
    out of the journal; ``reused`` are ``order``'s fills whose id the account
    already has with other content (one incident names the first)."""
    who = f"{order.account.name}: "
    what = f"{order.side} {order.qty} {order.symbol}"
    coid = order.client_order_id
    found: list[Finding] = []
    if result.status is OrderStatus.REJECTED:
        found.append(
            Finding(
                Incident.Kind.REJECTED_ORDER,
                f"{who}{what} rejected by the broker: {result.reason or 'no reason given'} "
                f"(order {coid})",
                {"reason": result.reason},
            )
        )
    mismatched = [f for f in result.fills if contract_code(f.symbol) != order.symbol]
    for fill in mismatched:
        note = (unrecorded or {}).get(fill.fill_id)
        found.append(
            Finding(
                Incident.Kind.SYMBOL_MISMATCH,
                f"{who}{what} (order {coid}) filled in {fill.symbol}: {fill.side.value} "
                f"{fill.qty} @ {fill.price}, fill {fill.fill_id}"
                + (f"; not journaled: {note}" if note else ""),
                {
                    "ordered_symbol": order.symbol,
                    "filled_symbol": fill.symbol,
                    "fill_id": fill.fill_id,
                    "qty": fill.qty,
                    "price": fill.price,
                },
            )
        )
        break  # one incident per order and kind: the first mismatch names it
    executions = {f.fill_id: f.qty for f in result.fills}  # a fill listed twice is one
    executed = max(result.filled_qty, sum(executions.values()))
    if executed > order.qty:
        found.append(
            Finding(
                Incident.Kind.DUPLICATE_ORDER,
                f"{who}{what} (order {coid}): the broker reports {executed} contracts executed "
                f"in {len(executions)} fill{'s' if len(executions) != 1 else ''}, "
                f"{executed - order.qty} more than ordered",
                {"ordered": order.qty, "executed": executed, "extra": executed - order.qty},
            )
        )
    if reused:
        first = reused[0]
        found.append(
            Finding(
                Incident.Kind.FILL_ID_REUSED,
                f"{who}{what} (order {coid}): the broker re-used a fill id, "
                f"{first.describe()}"
                + (f" (and {len(reused) - 1} more)" if len(reused) > 1 else "")
                + ". The received fill is not journaled: check this account's fills at the "
                "broker against the journal, and reconcile its position and PnL",
                {**first.numbers(), "reused": len(reused)},
            )
        )
    slipped = _slippage(order, result, specs)
    if slipped is not None:
        found.append(slipped)
    return found


def _same_underlying(a: str, b: str, specs: Mapping[str, ContractSpec]) -> bool:
    ra, rb = root_of(a), root_of(b)
    if ra == rb:
        return True
    if ra not in specs or rb not in specs:
        return False
    return same_underlying(specs[ra].to_engine(), specs[rb].to_engine())


def _slippage(
    order: CopyOrder, result: OrderResult, specs: Mapping[str, ContractSpec]
) -> Finding | None:
    """Slippage beyond the group's ``max_slippage_ticks``: ``|avg fill - leader
    fill| / tick size`` for a market copy in the leader's contract or its
    mini/micro (the orders sent with the leader's price as reference); the
    rule and its wording are the engine's, shared with the replay
    (:func:`routing.engine.watch.slippage_finding`)."""
    limit = order.group.max_slippage_ticks
    event = order.leader_event
    if (
        limit is None
        or event is None
        or order.order_type != OrderType.MARKET
        or not _same_underlying(event.symbol, order.symbol, specs)
    ):
        return None
    own = [f for f in result.fills if contract_code(f.symbol) == order.symbol]
    qty = sum(f.qty for f in own)
    if qty:
        avg = sum((f.price * f.qty for f in own), Decimal(0)) / qty
    elif result.avg_price is not None:
        avg = result.avg_price
    else:
        return None
    tick = specs[root_of(order.symbol)].tick_size
    slipped = slippage_finding(
        account=order.account.name,
        side=order.side,
        qty=qty or result.filled_qty,
        symbol=order.symbol,
        avg_price=avg,
        leader_price=event.price,
        tick_size=tick,
        max_ticks=limit,
        client_order_id=order.client_order_id,
    )
    if slipped is None:
        return None
    return Finding(
        Incident.Kind.SLIPPAGE,
        slipped.reason.text,
        {
            "ticks": slipped.ticks,
            "max_slippage_ticks": limit,
            "avg_fill_price": _plain(avg),
            "leader_price": _plain(event.price),
            "tick_size": _plain(tick),
        },
    )


def _plain(value: Decimal) -> Decimal:
    """``6.00`` -> ``6``, ``21001.500000`` -> ``21001.5``: figures as people write them."""
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value
