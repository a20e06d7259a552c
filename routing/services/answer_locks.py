"""What an event's broker answers read first: locks, contract specs, fills.

:func:`answers_locked` takes the locks of a batch of answers in the order
every writer of the copy path takes them (the orders' leaders, then the
orders in pk order; positions come later) and reads the contract specs the
batch names, in one round trip when the orders are the ingest's own
(:mod:`routing.services.order_results`). :func:`answers_reads` adds the
reads the answers' fills start with (which are stored already, and their
positions, locked: :func:`journal.fills.fills_record_ahead`) to that round
trip, for the caller to send ahead around both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from django.db import router

from accounts.models import BrokerAccount
from copytrade.core.bulk import attnames, loaded_rows
from copytrade.core.hot_reads import HotRead, ReadAhead, hot_reads_ahead, ids_param, ids_shape
from journal.fills import FillInput, fills_record_ahead
from routing.brokers.base import OrderResult
from routing.engine.symbols import root_of
from routing.models import ContractSpec, CopyOrder
from routing.services.answer_fills import answer_fill_keys
from routing.services.order_findings import contract_code

# Every stored column of an order (foreign keys as ids), refreshed on the
# ``known`` instances: anything may have moved since the ingest built them.
_COLUMNS = tuple(f.attname for f in CopyOrder._meta.concrete_fields if not f.primary_key)


def answers_locked(
    ids: Sequence[int], known: Mapping[int, CopyOrder], results: Sequence[OrderResult]
) -> tuple[dict[int, CopyOrder], dict[str, ContractSpec]]:
    """The orders ``ids`` (sorted), locked, by id: ``known`` ones refreshed
    from their rows, the others read with their account, group and event;
    and the specs of every product they and ``results`` name, by root.

    Lock order (as leader events): the leaders first, then the orders in pk
    order, then positions, so recording and a leader event never wait on
    each other in opposite order (an incident locks the route, which takes
    the leader's row).
    """
    if not all(order_id in known for order_id in ids):
        leaders_locked(
            sorted(
                set(
                    CopyOrder.objects.filter(pk__any_of=ids).values_list(
                        "group__leader_id", flat=True
                    )
                )
            )
        )
        locked = CopyOrder.objects.select_for_update(of=("self",)).filter(pk__any_of=ids)
        found = {
            order.pk: order
            for order in locked.select_related("account", "group", "leader_event").order_by("pk")
        }
        return found, _specs_of(_roots(found.values(), results))
    # Both locks and the specs in one round trip (the server takes the locks
    # in this order), unless the caller sent them ahead already.
    leaders_read, orders_read, specs_read = _locks_ahead(ids, known, results)
    with hot_reads_ahead([leaders_read, orders_read, specs_read]):
        leaders_locked(*leaders_read[1])
        rows = _orders_locked(*orders_read[1])
        specs = _specs_of(*specs_read[1])
    # Plain rows, not instances: at 200 followers building the orders with
    # their related rows cost more than the statements.
    orders = {}
    for pk, *values in rows:
        order = known[pk]
        for attname, value in zip(_COLUMNS, values, strict=True):
            setattr(order, attname, value)
        orders[pk] = order
    return orders, specs


def answers_reads(
    ids: Sequence[int],
    known: Mapping[int, CopyOrder],
    results: Sequence[tuple[int, OrderResult]],
    leader_fills: Iterable[FillInput] = (),
) -> list[ReadAhead]:
    """Every read the answers ``results`` (``(copy order id, answer)``) of
    orders ``ids`` (sorted) make before they write, in the order they make
    them, to send ahead in one round trip
    (:func:`copytrade.core.hot_reads.hot_reads_ahead`): :func:`answers_locked`'s
    locks and specs, then :func:`journal.fills.fills_record_ahead` for their
    fills and ``leader_fills``. Empty unless every order is ``known`` (the
    others are read by the ORM). A fill in another contract counts under
    that contract, as it is stored when the contract has a spec; one
    without is not stored, so the fills' reads differ from these and run
    again where they are made: these rows are then left unused, and the
    caller drops them (:func:`copytrade.core.hot_reads.hot_reads_forget`)
    before it writes."""
    if not all(order_id in known for order_id in ids):
        return []
    keys = answer_fill_keys(known, results, leader_fills)
    return [*_locks_ahead(ids, known, [r for _, r in results]), *fills_record_ahead(keys)]


def _locks_ahead(
    ids: Sequence[int], known: Mapping[int, CopyOrder], results: Sequence[OrderResult]
) -> tuple[ReadAhead, ReadAhead, ReadAhead]:
    """The leaders' and the orders' locks and the specs' read of
    :func:`answers_locked` for orders ``ids``, every one ``known``: an
    order's leader and contract never change, so the known ones name them."""
    leaders = sorted({known[order_id].group.leader_id for order_id in ids})
    roots = _roots([known[order_id] for order_id in ids], results)
    return (leaders_locked, (leaders,)), (_orders_locked, (list(ids),)), (_specs_read, (roots,))


# Every event's answers take these locks (compiled once).
leaders_locked = HotRead(
    "leaders locked",
    BrokerAccount,
    lambda ids: (
        BrokerAccount.objects.select_for_update()
        .filter(pk__any_of=ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    ),
    ids_param,
    shape=ids_shape,
    lock=True,
)
_orders_locked = HotRead(
    "copy orders locked",
    CopyOrder,
    lambda ids: (
        CopyOrder.objects.select_for_update(of=("self",))
        .filter(pk__any_of=ids)
        .order_by("pk")
        .values_list("pk", *_COLUMNS)
    ),
    ids_param,
    shape=ids_shape,
    lock=True,
)


def _roots(orders: Iterable[CopyOrder], results: Sequence[OrderResult]) -> list[str]:
    """Every product the batch names (orders, leader events, fills), sorted."""
    roots: set[str] = set()
    for order in orders:
        roots.add(root_of(order.symbol))
        if order.leader_event is not None:
            roots.add(root_of(order.leader_event.symbol))
    for result in results:
        for fill in result.fills:
            code = contract_code(fill.symbol)
            if code is not None:
                roots.add(root_of(code))
    return sorted(roots)


def _specs_of(roots: list[str]) -> dict[str, ContractSpec]:
    """The specs of products ``roots`` (sorted) by root."""
    db = router.db_for_read(ContractSpec)
    specs = loaded_rows(
        ContractSpec, db, [dict(zip(_SPEC_COLUMNS, row, strict=True)) for row in _specs_read(roots)]
    )
    return {spec.root: spec for spec in specs}


_SPEC_COLUMNS = attnames(ContractSpec)
_specs_read = HotRead(
    "contract specs",
    ContractSpec,
    lambda roots: ContractSpec.objects.filter(root__in=roots).values_list(*_SPEC_COLUMNS),
    lambda connection, roots: list(roots),
    shape=lambda connection, roots: len(roots),
)
