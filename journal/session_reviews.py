"""Session reviews: the trader's note on a trading date, for the whole day
or one copy group (what went well, what to change), written from the
journal page. Every save is journaled with the text before and after
(``session_review.saved``), so the journal and its CSV keep each version.
"""

from __future__ import annotations

from datetime import date

from django.db import transaction

from accounts.models import User
from copytrade.core.errors import ApplicationError
from journal.models import EventType, SessionReview
from journal.services import journal_record
from routing.selectors import group_for_user

_FIELDS = ("went_well", "to_change")


def _texts(review: SessionReview | None) -> dict[str, str] | None:
    return None if review is None else {name: getattr(review, name) for name in _FIELDS}


@transaction.atomic
def session_review_save(
    *,
    owner: User,
    trading_date: date,
    group_id: int | None,
    went_well: str,
    to_change: str,
) -> bool:
    """Write ``owner``'s note for ``trading_date`` (the CME trading date),
    about group ``group_id`` or, with ``None``, the whole day; return whether
    anything changed.

    Both texts empty removes an existing note (and is refused when there is
    none). Text is kept as written, trailing space trimmed, at most
    :attr:`SessionReview.TEXT_MAX` characters each. Journaled when it changes
    (``before`` / ``after`` hold both texts, ``None`` for no note). Raises
    :class:`ApplicationError` (``field`` set) for another user's group or a
    deleted one, a text too long, or nothing to save.
    """
    texts = {"went_well": went_well.rstrip(), "to_change": to_change.rstrip()}
    for name, text in texts.items():
        if len(text) > SessionReview.TEXT_MAX:
            raise ApplicationError(
                f"at most {SessionReview.TEXT_MAX:,} characters, got {len(text):,}", field=name
            )
    group_name = ""
    if group_id is not None:
        group = group_for_user(user=owner, group_id=group_id)
        if group is None:
            raise ApplicationError("no such copy group of yours", field="group")
        group_name = group.name
    reviews = SessionReview.objects.select_for_update().filter(
        owner=owner, trading_date=trading_date, group_id=group_id
    )
    review = reviews.first()
    before = _texts(review)
    empty = not any(texts.values())
    if empty and review is None:
        raise ApplicationError(
            "write what went well or what to change (or both)", field="went_well"
        )
    if before == texts:
        return False
    if empty:
        assert review is not None  # refused above otherwise
        review.delete()
        after: dict[str, str] | None = None
    else:
        if review is None:
            review = SessionReview(owner=owner, trading_date=trading_date, group_id=group_id)
        review.group_name = group_name
        for name, text in texts.items():
            setattr(review, name, text)
        review.save()
        after = texts
    about = f"{group_name!r}" if group_id is not None else "the whole day"
    verb = "removed" if after is None else ("written" if before is None else "edited")
    tail = ""
    if after is not None:
        well, change = (after[name] or "\u2014" for name in _FIELDS)
        tail = f": went well: {well} \u00b7 to change: {change}"
    journal_record(
        owner_id=owner.pk,
        event_type=EventType.SESSION_REVIEW_SAVED,
        group_id=group_id,
        actor_label=owner.get_username(),
        actor_user_id=owner.pk,
        message=f"Session review of {trading_date.isoformat()} ({about}) {verb}{tail}",
        before=before,
        after=after,
        extra_data={"trading_date": trading_date.isoformat()},
    )
    return True
