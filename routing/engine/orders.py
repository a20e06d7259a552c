"""Order identity: deterministic client order ids (idempotency keys).

The same leader event for the same follower always yields the same id, so a
re-delivered event, a replay after reconnect or a restarted worker can never
place a second order: the broker and the ``CopyOrder`` unique constraint both
refuse the repeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

CLIENT_ORDER_ID_PREFIX = "ct"
# 24 hex chars = 96 bits: collisions are negligible and the id stays within
# the 32-character client order id limit common to futures APIs.
_DIGEST_CHARS = 24


def client_order_id(route_key: str, event_key: str, follower_key: str) -> str:
    """``"ct-" + 24 hex``: stable id for (route, leader event, follower).

    ``route_key`` names the copy group, ``event_key`` the leader event (its
    broker fill id, qualified by the leader account), ``follower_key`` the
    follower account. All three must be non-empty.
    """
    return client_order_ids(route_key, event_key)(follower_key)


def client_order_ids(route_key: str, event_key: str) -> Callable[[str], str]:
    """``follower_key -> client_order_id(route_key, event_key, follower_key)``.

    For one event's many followers: the route and event part of the hashed
    material is encoded once. The returned function raises ``ValueError``
    like :func:`client_order_id` (an empty key), when it is called: an event
    with no followers needs no id.
    """
    head = f"{route_key}\x1f{event_key}\x1f".encode()
    empty = "route" if not route_key else "event" if not event_key else None
    prefix, sha256 = f"{CLIENT_ORDER_ID_PREFIX}-", hashlib.sha256  # bound once per event

    def order_id(follower_key: str) -> str:
        if empty is not None or not follower_key:
            raise ValueError(f"client order id needs a non-empty {empty or 'follower'} key")
        return prefix + sha256(head + follower_key.encode()).hexdigest()[:_DIGEST_CHARS]

    return order_id
