"""Copy groups, followers, risk limits, copy orders and flatten requests,
and the inputs of the API's route actions."""

from __future__ import annotations

from rest_framework import serializers

from routing.engine.bounds import MAX_CONTRACTS
from routing.engine.limits import RouteLevel
from routing.models import (
    RATIO_MAX,
    RATIO_MIN,
    CopyGroup,
    CopyOrder,
    FlattenRequest,
    Follower,
    RiskLimit,
)
from routing.services.risk_limits import RISK_LIMIT_FIELDS


class CopyGroupSerializer(serializers.ModelSerializer[CopyGroup]):
    """``leader`` is the leader account's id, ``null`` for a subscription's
    route (led by another user's pilot account: ``leader_label`` only)."""

    leader = serializers.SerializerMethodField()
    leader_label = serializers.CharField(read_only=True)

    class Meta:
        model = CopyGroup
        fields = [
            "id",
            "name",
            "leader",
            "leader_label",
            "pilot_route",
            "enabled",
            "level",
            "level_reason",
            "level_changed_at",
            "reviewed_on",
            "copy_mode",
            "copy_value",
            "sizing_mode",
            "rounding",
            "partial_exit",
            "auto_micro",
            "quarantine",
            "created_at",
        ]
        read_only_fields = fields

    def get_leader(self, group: CopyGroup) -> int | None:
        return None if group.pilot_route else group.leader_id


class FollowerSerializer(serializers.ModelSerializer[Follower]):
    account_name = serializers.CharField(source="account.name", read_only=True)

    class Meta:
        model = Follower
        fields = ["id", "group", "account", "account_name", "ratio", "sizing_basis", "enabled"]
        read_only_fields = fields


class FollowerUpdateInput(serializers.Serializer[None]):
    """``PATCH /followers/{id}/``: the ratio (Decimal 0.1-1000, DESIGN.md)
    and/or the sizing basis; ``enabled`` has pause / resume."""

    ratio = serializers.DecimalField(
        max_digits=10, decimal_places=4, min_value=RATIO_MIN, max_value=RATIO_MAX, required=False
    )
    sizing_basis = serializers.ChoiceField(choices=Follower.SizingBasis.choices, required=False)

    def validate(self, attrs: dict[str, object]) -> dict[str, object]:
        if not attrs:
            raise serializers.ValidationError("Give ratio and/or sizing_basis.")
        return attrs


class RiskLimitSerializer(serializers.ModelSerializer[RiskLimit]):
    """Every limit of one account (:class:`routing.engine.limits.RiskLimits`
    documents each); ``null`` means no limit. Written through
    ``risk_limit_update`` (journaled), which checks the limits together."""

    class Meta:
        model = RiskLimit
        fields = ["id", "account", *RISK_LIMIT_FIELDS, "updated_at"]
        read_only_fields = ["id", "account", "updated_at"]


class RouteLevelInput(serializers.Serializer[None]):
    """``level`` 0-4 (:class:`routing.engine.limits.RouteLevel`) and why."""

    level = serializers.ChoiceField(choices=[(m.value, m.label) for m in RouteLevel])
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)


class CopyOrderSerializer(serializers.ModelSerializer[CopyOrder]):
    class Meta:
        model = CopyOrder
        fields = [
            "id",
            "kind",
            "group",
            "follower",
            "account",
            "leader_event",
            "client_order_id",
            "broker_order_id",
            "symbol",
            "side",
            "qty",
            "intent",
            "order_type",
            "limit_price",
            "stop_price",
            "status",
            "reason",
            "filled_qty",
            "avg_fill_price",
            "position_before",
            "target",
            "handed_at",
            "acknowledged_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class FlattenRequestSerializer(serializers.ModelSerializer[FlattenRequest]):
    created = serializers.SerializerMethodField()

    class Meta:
        model = FlattenRequest
        fields = [
            "id",
            "group",
            "status",
            "requested_by",
            "created_at",
            "finished_at",
            "detail",
            "created",
        ]
        read_only_fields = fields

    def get_created(self, request: FlattenRequest) -> bool:
        """True when this call made the request, False when one was already pending."""
        return bool(self.context.get("created", False))


class PositionActionInput(serializers.Serializer[None]):
    """``POST /followers/{id}/close-position/`` and ``/untrack-position/``:
    the contract (``MNQH6``) and the signed contracts the caller believes
    the follower holds (close) or copying manages (untrack), never 0; a
    different figure is refused (stale), as on the group page."""

    symbol = serializers.RegexField(regex=r"^[A-Z0-9]{2,20}$", max_length=20)
    qty = serializers.IntegerField(min_value=-MAX_CONTRACTS, max_value=MAX_CONTRACTS)

    def validate_qty(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("A position of 0 contracts is flat: nothing to do.")
        return value


class ContractMappingsInput(serializers.Serializer[None]):
    """``PUT /groups/{id}/mappings/``: every mapping of the group, leader
    product root -> follower product root (``{"NQ": "MNQ"}``; ``{}`` clears
    them). Roots are checked against the contract specifications."""

    mappings = serializers.DictField(child=serializers.CharField(max_length=10), allow_empty=True)
