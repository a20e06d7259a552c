"""Order identity: deterministic client order ids (idempotency keys).

The same leader event for the same follower always yields the same id, so a
re-delivered event, a replay after reconnect or a restarted worker can never
place a second order: the broker and the ``CopyOrder`` unique constraint both
refuse the repeat.
"""

from __future__ import annotations

import hashlib

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
    for name, value in (("route", route_key), ("event", event_key), ("follower", follower_key)):
        if not value:
            raise ValueError(f"client order id needs a non-empty {name} key")
    material = "\x1f".join((route_key, event_key, follower_key)).encode()
    return f"{CLIENT_ORDER_ID_PREFIX}-{hashlib.sha256(material).hexdigest()[:_DIGEST_CHARS]}"
