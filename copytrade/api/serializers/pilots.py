"""Pilots as the public leaderboard shows them (pilots/board_selectors.py:
display name, markets, nominal size, record and a follower count; never the
owner, the account or who follows), and the user's own subscriptions."""

from __future__ import annotations

from rest_framework import serializers

from pilots.models import Subscription


class PilotRowSerializer(serializers.Serializer[None]):
    """One pilot of the board (a :class:`pilots.board_selectors.BoardRow`).
    ``position`` the rank by score among listed pilots (``null`` when not
    listed); ``statistics`` and ``score`` as the stored record holds them."""

    id = serializers.IntegerField(source="pilot.pk")
    display_name = serializers.CharField(source="pilot.display_name")
    markets = serializers.ListField(child=serializers.CharField(), source="pilot.markets")
    nominal_balance = serializers.DecimalField(
        max_digits=20, decimal_places=4, source="pilot.nominal_balance"
    )
    published_at = serializers.DateTimeField(source="pilot.published_at")
    position = serializers.IntegerField(allow_null=True)
    followers = serializers.IntegerField()
    verified = serializers.BooleanField()
    seasoned = serializers.BooleanField()
    flagged = serializers.BooleanField()
    has_record = serializers.BooleanField()
    statistics = serializers.DictField()
    score = serializers.DictField()
    reasons = serializers.ListField(child=serializers.CharField())


class SubscriptionSerializer(serializers.ModelSerializer[Subscription]):
    pilot_name = serializers.CharField(source="pilot.display_name", read_only=True)

    class Meta:
        model = Subscription
        fields = [
            "id",
            "pilot",
            "pilot_name",
            "status",
            "started_at",
            "watch_ends_at",
            "ended_at",
            "group",
        ]
        read_only_fields = fields
