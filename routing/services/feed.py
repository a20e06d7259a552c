"""Live-feed pushes to a user's websocket, numbered and sent after commit.

The channel layer is at-most-once (Channels' layer spec), so each message
carries the user's next ``feed_seq``; a page that sees a gap re-reads the
snapshot. The counter increments in the caller's transaction, which also
locks the user row until commit, so numbers follow commit order per user.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F

from accounts.models import User

logger = logging.getLogger(__name__)


def user_group_name(user_id: int) -> str:
    """Channel-layer group that reaches every open page of one user."""
    return f"user_{user_id}"


def feed_publish_on_commit(*, user_id: int, kind: str, data: dict[str, Any]) -> int:
    """Number a feed message for ``user_id`` now and send it after commit.

    ``kind`` names the message (``"copy_orders"``, ``"positions"``); ``data``
    must be JSON-able. Returns the sequence number. Must run in a transaction.
    """
    User.objects.filter(pk=user_id).update(feed_seq=F("feed_seq") + 1)
    seq = User.objects.filter(pk=user_id).values_list("feed_seq", flat=True).get()
    message = {"type": "feed.message", "seq": seq, "kind": kind, "data": data}
    transaction.on_commit(lambda: _send(user_id, message))
    return seq


def _send(user_id: int, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group_name(user_id), message)
    except Exception:
        # Any layer failure (Redis down, a timeout) is caught: the push runs
        # after commit inside the engine's path, and a lost push costs only
        # freshness (the page re-reads its snapshot on the next gap), while
        # an exception here would stop the orders of this event being sent.
        logger.exception("feed push %s to user %s failed", message["seq"], user_id)
