"""The live feed websocket: one channel-layer group per user.

Thin (Channels tutorial shape): authenticate, join the user's group, relay
``feed.message`` events. Pushes are notifications only: the page re-reads
the snapshot over HTTP on connect and whenever a sequence number is skipped,
because channel layers deliver at most once.
"""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from routing.services.feed import user_group_name

# Close codes in the 4000-4999 application range.
CLOSE_UNAUTHENTICATED = 4401


class FeedConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """``/ws/feed/``: every copy order and position change of the signed-in user."""

    group_name: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.group_name = user_group_name(user.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group_name is not None:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The feed is one-way; anything the page sends is ignored.
        return

    async def feed_message(self, event: dict[str, Any]) -> None:
        await self.send_json({"seq": event["seq"], "kind": event["kind"], "data": event["data"]})
