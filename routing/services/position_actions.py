"""One follower position, acted on from the group page: *Close* and *Untrack*.

*Close* closes the position at market the way an emergency flatten does,
for one contract of one account: the dashboard queues a
:class:`~routing.models.PositionClose` (journaled with the user as actor)
and the engine worker that owns the group's leader carries it out
(``FlattenMixin.position_closes``, recorded by
:mod:`routing.services.position_closes`): cancel the account's open copy
orders in that contract, read the broker's position, close it with the
adapter's ``flatten`` (which only ever closes), set the expected position
to 0 (copying stops expecting it) and reconcile. A close is refused with
the reason, nothing sent, when the position is already flat, or when it is
no longer the one the page showed (a stale click): here when pressed, and
by the worker when the broker's position went flat or changed sides
meanwhile.

*Untrack* leaves the position to the user: the contracts copying manages
(``ExpectedPosition.qty``) move to ``untracked``, as the *untrack* of a
desync does (:func:`routing.services.reconcile.desync_untrack`), so the
leader's exits no longer close them and reconciliation still expects the
broker to hold them. Journaled with the user as actor.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import BrokerAccount, User
from copytrade.core.errors import ApplicationError
from journal.models import EventType, Position
from journal.services import journal_record
from routing.models import CopyGroup, CopyOrder, ExpectedPosition, Follower, PositionClose
from routing.services.feed import feed_publish_on_commit


def _follower(*, user: User, group: CopyGroup, account_id: int) -> Follower:
    """The follower of ``group`` on ``account_id``, if ``user`` owns the group."""
    if group.owner_id != user.pk:
        raise ApplicationError("only the owner of a copy group may act on its positions")
    follower = (
        Follower.objects.select_related("account")
        .filter(group=group, account_id=account_id)
        .first()
    )
    if follower is None:
        raise ApplicationError("that account does not follow this group", field="account")
    return follower


def _seen(seen_qty: int, symbol: str) -> None:
    if seen_qty == 0:
        raise ApplicationError(f"{symbol} was flat on your page: nothing to do", field="qty")


def _pending_close(account_id: int, symbol: str) -> PositionClose | None:
    return PositionClose.objects.filter(
        account_id=account_id, symbol=symbol, status=PositionClose.Status.PENDING
    ).first()


@transaction.atomic
def position_close_request(
    *,
    user: User,
    group: CopyGroup,
    account_id: int,
    symbol: str,
    seen_qty: int,
    at: datetime | None = None,
) -> PositionClose:
    """``user`` presses *Close* on follower ``account_id``'s position in
    ``symbol``, which their page showed as ``seen_qty`` signed contracts;
    returns the pending close the engine worker carries out.

    Raises :class:`ApplicationError` (nothing queued) when ``user`` does not
    own ``group`` or the account does not follow it, when the journal's
    position is flat (already closed), when it differs from ``seen_qty``
    (the page was stale: press again on what it shows now), or when a close
    of that position is already pending. Journals
    ``POSITION_CLOSE_REQUESTED`` with the user as actor.
    """
    at = at or timezone.now()
    follower = _follower(user=user, group=group, account_id=account_id)
    name = follower.account.name
    _seen(seen_qty, symbol)
    held = (
        Position.objects.filter(account_id=account_id, symbol=symbol)
        .values_list("qty", flat=True)
        .first()
    ) or 0
    if held == 0:
        raise ApplicationError(f"{name}: {symbol} is already flat; no order sent")
    if held != seen_qty:
        raise ApplicationError(
            f"{name}: {symbol} is now {held:+d}, not the {seen_qty:+d} your page showed; "
            "no order sent. Check the position and press Close again"
        )
    pending = _pending_close(account_id, symbol)
    if pending is None:
        try:
            with transaction.atomic():
                pending = PositionClose.objects.create(
                    owner=user,
                    group=group,
                    follower=follower,
                    account_id=account_id,
                    symbol=symbol,
                    seen_qty=seen_qty,
                    requested_by=user.get_username(),
                )
        except IntegrityError:  # a concurrent press queued it first
            pending = _pending_close(account_id, symbol)
        else:
            journal_record(
                owner_id=group.owner_id,
                event_type=EventType.POSITION_CLOSE_REQUESTED,
                group_id=group.pk,
                account_id=account_id,
                actor_label=user.get_username(),
                actor_user_id=user.pk,
                occurred_at=at,
                message=(
                    f"{name}: close of {seen_qty:+d} {symbol} at market requested by "
                    f"{user.get_username()}; the engine sends it"
                ),
                before={"position": seen_qty},
                extra_data={"position_close": pending.pk, "symbol": symbol},
            )
            feed_publish_on_commit(
                user_id=group.owner_id,
                kind="positions",
                data={"group": group.pk, "account": account_id, "reason": "close requested"},
            )
            return pending
    assert pending is not None  # the constraint that refused the insert names one
    raise ApplicationError(
        f"{name}: a close of {symbol} is already under way (requested by "
        f"{pending.requested_by}); nothing new queued"
    )


@transaction.atomic
def position_untrack(
    *,
    user: User,
    group: CopyGroup,
    account_id: int,
    symbol: str,
    seen_qty: int,
    at: datetime | None = None,
) -> int:
    """``user`` presses *Untrack* on follower ``account_id``'s position in
    ``symbol``, of which their page showed ``seen_qty`` signed contracts as
    managed by copying: those contracts become the user's own (expected
    ``qty`` -> ``untracked``), so copying no longer exits or resizes them.
    Returns the contracts untracked (signed).

    Holds the leader's row (the route lock order) so no leader event is
    decided on the old expected position meanwhile. Raises
    :class:`ApplicationError` (nothing changed) when ``user`` does not own
    ``group`` or the account does not follow it, when copying manages
    nothing in ``symbol``, when it manages another quantity than
    ``seen_qty`` (stale page), or while an order in ``symbol`` is open or a
    close of it is pending (their outcome moves the expected position).
    Journals ``POSITION_UNTRACKED`` with the user as actor.
    """
    at = at or timezone.now()
    follower = _follower(user=user, group=group, account_id=account_id)
    name = follower.account.name
    _seen(seen_qty, symbol)
    BrokerAccount.objects.select_for_update().filter(pk=group.leader_id).first()
    row = (
        ExpectedPosition.objects.select_for_update()
        .filter(account_id=account_id, symbol=symbol)
        .first()
    )
    tracked = row.qty if row is not None else 0
    if row is None or tracked == 0:
        raise ApplicationError(
            f"{name}: copying manages nothing in {symbol} (flat or untracked already); "
            "nothing changed"
        )
    if tracked != seen_qty:
        raise ApplicationError(
            f"{name}: copying now manages {tracked:+d} {symbol}, not the {seen_qty:+d} your "
            "page showed; nothing changed. Check the position and press Untrack again"
        )
    if CopyOrder.objects.filter(
        account_id=account_id, symbol=symbol, status__in=CopyOrder.OPEN_STATUSES
    ).exists():
        raise ApplicationError(
            f"{name}: an order in {symbol} is still open; untrack once it has ended"
        )
    if _pending_close(account_id, symbol) is not None:
        raise ApplicationError(f"{name}: a close of {symbol} is under way; nothing changed")
    before = {"tracked": tracked, "untracked": row.untracked}
    row.untracked += tracked
    row.qty = 0
    row.save(update_fields=["qty", "untracked", "updated_at"])
    journal_record(
        owner_id=group.owner_id,
        event_type=EventType.POSITION_UNTRACKED,
        group_id=group.pk,
        account_id=account_id,
        actor_label=user.get_username(),
        actor_user_id=user.pk,
        occurred_at=at,
        message=(
            f"{name}: {tracked:+d} {symbol} untracked by {user.get_username()}: left to you, "
            "copying no longer exits or resizes it"
        ),
        before=before,
        after={"tracked": 0, "untracked": row.untracked},
        extra_data={"symbol": symbol},
    )
    feed_publish_on_commit(
        user_id=group.owner_id,
        kind="positions",
        data={"group": group.pk, "account": account_id, "reason": "untracked"},
    )
    return tracked
