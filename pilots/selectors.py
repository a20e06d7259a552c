"""Reads of pilots and subscriptions (never writes)."""

from __future__ import annotations

from pilots.models import Pilot, Subscription

# A subscription that still follows its pilot (watching or mirroring).
OPEN = (Subscription.Status.WATCHING, Subscription.Status.MIRRORING)


def pilot_follower_count(pilot: Pilot) -> int:
    """How many users follow ``pilot`` now: what the pilot may see, never who."""
    return Subscription.objects.filter(pilot=pilot, status__in=OPEN).count()
