"""Expected positions: what copying has committed each follower to.

A copy order moves its account's expected position by its full signed size
when it is decided (the engine sizes the next event against it at once, so
orders still in flight are never sized twice) and back by the unfilled rest
when it ends rejected or cancelled. Callers run inside the transaction that
creates or finalises the order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.utils import timezone

from copytrade.core.bulk import bulk_set_columns
from copytrade.core.hot_reads import HotRead, ReadAhead, ids_param, ids_shape
from routing.models import ExpectedPosition


def expected_positions_locked(
    account_ids: Iterable[int], symbols: Iterable[str]
) -> dict[tuple[int, str], ExpectedPosition]:
    """Rows for every (account, symbol) pair, created at 0 when missing and
    locked (``SELECT ... FOR UPDATE``) until the caller's transaction ends.

    Must run inside ``transaction.atomic``.
    """
    ids, syms = list(account_ids), sorted(set(symbols))
    if not ids or not syms:
        return {}
    ExpectedPosition.objects.bulk_create(
        [ExpectedPosition(account_id=a, symbol=s) for a in ids for s in syms],
        ignore_conflicts=True,
    )
    rows = (
        ExpectedPosition.objects.select_for_update()
        .filter(account_id__in=ids, symbol__in=syms)
        .order_by("pk")
    )
    return {(row.account_id, row.symbol): row for row in rows}


def expected_positions_save(rows: Mapping[tuple[int, str], ExpectedPosition]) -> None:
    """Write back rows from :func:`expected_positions_locked` after changing ``qty``."""
    ExpectedPosition.objects.bulk_update(list(rows.values()), ["qty"])


def expected_position_move(*, account_id: int, symbol: str, delta: int) -> None:
    """Add signed ``delta`` contracts to one expected position (created at 0):
    :func:`expected_positions_move` for one."""
    expected_positions_move({(account_id, symbol): delta})


def expected_positions_move(deltas: Mapping[tuple[int, str], int]) -> None:
    """Add signed contracts to many expected positions, ``(account id,
    contract) -> delta`` (rows created at 0 when missing), in two to four
    statements whatever their number (:func:`expected_positions_of`, then
    :func:`expected_positions_set`): a rejection storm backs out every
    follower's entry in one batch of broker answers."""
    moves = {key: delta for key, delta in deltas.items() if delta}
    if not moves:
        return
    rows = expected_positions_of([a for a, _ in moves], [s for _, s in moves])
    expected_positions_set({rows[key][0]: rows[key][1] + delta for key, delta in moves.items()})


def expected_positions_of(
    account_ids: Iterable[int], symbols: Iterable[str]
) -> dict[tuple[int, str], tuple[int, int]]:
    """Every expected position of ``account_ids``, locked (``SELECT ... FOR
    UPDATE``, pk order) until the caller's transaction ends, as (account id,
    contract) -> (row id, signed contracts), with a row at 0 for each
    (account, symbol in ``symbols``) pair: one statement when they all exist
    (the usual case), three when some must be created first. Values, not
    instances: the copy path reads hundreds and writes few
    (:func:`expected_positions_set`). Must run inside ``transaction.atomic``.
    """
    ids, syms = sorted(set(account_ids)), sorted(set(symbols))
    if not ids:
        return {}
    rows = _locked_rows(*expected_positions_of_ahead(ids)[1])
    missing = [(a, s) for a in ids for s in syms if (a, s) not in rows]
    if missing:
        ExpectedPosition.objects.bulk_create(
            [ExpectedPosition(account_id=a, symbol=s) for a, s in missing], ignore_conflicts=True
        )
        rows = _locked_rows(ids)
    return rows


def expected_positions_set(qty_of: Mapping[int, int]) -> None:
    """Store signed contracts per expected position row id (rows locked by
    :func:`expected_positions_of`) in one statement, ``updated_at`` now."""
    if not qty_of:
        return
    pks = sorted(qty_of)
    now = timezone.now()  # bulk writes skip auto_now
    bulk_set_columns(
        ExpectedPosition,
        pks,
        {"qty": [qty_of[pk] for pk in pks], "updated_at": [now] * len(pks)},
    )


def expected_positions_of_ahead(account_ids: Iterable[int]) -> ReadAhead:
    """:func:`expected_positions_of`'s first read for the same accounts, to
    run ahead (:func:`copytrade.core.hot_reads.hot_reads_ahead`)."""
    return (_locked, (sorted(set(account_ids)),))


def _locked_rows(ids: list[int]) -> dict[tuple[int, str], tuple[int, int]]:
    return {(account_id, symbol): (pk, qty) for account_id, symbol, pk, qty in _locked(ids)}


_locked = HotRead(
    "expected positions locked",
    ExpectedPosition,
    lambda ids: (
        ExpectedPosition.objects.select_for_update()
        .filter(account_id__any_of=ids)
        .order_by("pk")
        .values_list("account_id", "symbol", "pk", "qty")
    ),
    ids_param,
    shape=ids_shape,
    lock=True,
)
