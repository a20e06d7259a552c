"""When a copy order went to its broker and when the broker answered.

The engine worker stamps the two instants around the adapter call
(:mod:`routing.runtime.sends`) and hands them to the recording of the
broker's answers (:func:`routing.services.order_results.copy_orders_record`),
which writes them with the order's status in the batch it already runs: no
statement of their own. :mod:`routing.copy_quality` measures latency from
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from routing.models import CopyOrder


@dataclass(slots=True)
class SendTimes:
    """Aware UTC instants of one order's send, each set once (the first wins).

    ``handed_at``: the order handed to the broker adapter (its first try:
    a retry after a temporary error does not move it). ``acknowledged_at``:
    the broker's first answer back (an acceptance, a fill, a refusal, or
    the order found by its client order id after an unknown outcome).
    ``None`` until it happens: an order refused before reaching an adapter
    (no adapter for its platform) has neither, one whose outcome stayed
    unknown has no acknowledgement.
    """

    handed_at: datetime | None = None
    acknowledged_at: datetime | None = None

    def handed(self) -> None:
        """Stamp now as the hand-off, unless stamped already."""
        if self.handed_at is None:
            self.handed_at = timezone.now()

    def acknowledged(self) -> None:
        """Stamp now as the broker's answer, unless stamped already."""
        if self.acknowledged_at is None:
            self.acknowledged_at = timezone.now()


def send_times_apply(order: CopyOrder, times: SendTimes | None) -> bool:
    """Set on ``order`` (in memory) the instants of ``times`` it does not
    hold yet; True when one was set (the caller stores the order). An
    instant already stored is never moved: an answer recorded twice keeps
    the first measurement."""
    if times is None:
        return False
    changed = False
    if order.handed_at is None and times.handed_at is not None:
        order.handed_at = times.handed_at
        changed = True
    if order.acknowledged_at is None and times.acknowledged_at is not None:
        order.acknowledged_at = times.acknowledged_at
        changed = True
    return changed
