"""Live-feed pushes to a user's websocket, numbered and sent after commit.

The channel layer is at-most-once (Channels' layer spec), so each message
carries the user's next ``feed_seq``; a page that sees a gap re-reads the
snapshot. The number is taken *after* the change commits, in a statement of
its own (``UPDATE ... RETURNING``), so the user's row is locked only for
that statement: concurrent leader events of one user (several engine
workers, several groups) never wait on each other's transactions for it.
Numbers follow send order; a message that overtakes another shows the page
a gap, and the page re-reads its snapshot.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection, transaction

from accounts.models import User

logger = logging.getLogger(__name__)


def user_group_name(user_id: int) -> str:
    """Channel-layer group that reaches every open page of one user."""
    return f"user_{user_id}"


def feed_publish_on_commit(*, user_id: int, kind: str, data: dict[str, Any]) -> None:
    """Send a feed message to ``user_id`` once the caller's transaction
    commits (nothing when it rolls back), numbered then.

    ``kind`` names the message (``"copy_orders"``, ``"positions"``); ``data``
    must be JSON-able. Outside a transaction it is sent at once.
    """
    transaction.on_commit(lambda: _publish(user_id, kind, data))


def feed_state_on_commit(*, user_id: int, group_ids: list[int | None], reason: str) -> None:
    """Tell ``user_id``'s pages, once the caller's transaction commits, that
    the state of ``group_ids`` changed (a route level, a halt, a pause, a
    replay's status; ``None``: every group of the user): a ``state`` message
    whose ``data`` is ``{"groups", "reason"}``. The page re-reads its
    snapshot. Call it once per event: an event already sending the user a
    message (a leader event's copy orders) needs none."""
    feed_publish_on_commit(
        user_id=user_id, kind="state", data={"groups": group_ids, "reason": reason}
    )


def feed_seq_next(user_id: int) -> int | None:
    """Take the user's next feed sequence number in a statement of its own;
    ``None`` when the user no longer exists."""
    table = connection.ops.quote_name(User._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET feed_seq = feed_seq + 1 WHERE id = %s RETURNING feed_seq",  # noqa: S608
            [user_id],
        )
        row = cursor.fetchone()
    return None if row is None else int(row[0])


@dataclass(frozen=True, slots=True)
class FeedMessage:
    """One numbered live-feed message for one user (the channel-layer event)."""

    user_id: int
    message: dict[str, Any]


def feed_message(*, user_id: int, seq: int, kind: str, data: dict[str, Any]) -> FeedMessage:
    """The channel-layer event of feed message ``seq`` for ``user_id``."""
    return FeedMessage(user_id, {"type": "feed.message", "seq": seq, "kind": kind, "data": data})


def copy_orders_data(payloads: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``data`` of a ``copy_orders`` message: the order payloads
    (:func:`routing.selectors.copy_order_payload`) and the groups they belong to."""
    return {"groups": sorted({p["group"] for p in payloads}), "orders": payloads}


async def feed_push(feed: FeedMessage) -> None:
    """Send ``feed`` through the channel layer. The layer is at-most-once: a
    lost push costs freshness only (the page sees the gap and re-reads its
    snapshot), so a layer failure (Redis down, a timeout) is logged, never
    raised into the copy path that sends it."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(user_group_name(feed.user_id), feed.message)
    except Exception:
        logger.exception("feed push %s to user %s failed", feed.message["seq"], feed.user_id)


def _publish(user_id: int, kind: str, data: dict[str, Any]) -> None:
    seq = feed_seq_next(user_id)
    if seq is None:  # the user was deleted meanwhile: no page to update
        return
    async_to_sync(feed_push)(feed_message(user_id=user_id, seq=seq, kind=kind, data=data))
