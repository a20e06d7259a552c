"""Copy groups, followers, risk limits and copy orders; the route actions
call the same services as the dashboard's buttons (routing/views.py,
routing/flatten_views.py)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from copytrade.api.base import ApiMixin
from copytrade.api.filters import CopyOrderFilter
from copytrade.api.permissions import DashboardOnly
from copytrade.api.serializers.routing import (
    ContractMappingsInput,
    CopyGroupSerializer,
    CopyOrderSerializer,
    FlattenRequestSerializer,
    FollowerSerializer,
    FollowerUpdateInput,
    PositionActionInput,
    RiskLimitSerializer,
    RouteLevelInput,
)
from routing.engine.limits import RouteLevel
from routing.models import CopyGroup, CopyOrder, Follower, RiskLimit
from routing.selectors import engine_status
from routing.services.contract_mappings import contract_mapping_pairs, contract_mappings_set
from routing.services.flatten import flatten_request
from routing.services.group_rules import (
    copy_group_pause,
    follower_pause,
    follower_update,
)
from routing.services.position_actions import position_close_request, position_untrack
from routing.services.route_levels import route_level_set

_REAUTH = OpenApiResponse(description="Needs a re-authentication: do it in the dashboard.")


def _changed(changed: bool, name: str, row: Any) -> Response:
    return Response({"changed": changed, name: row})


def _group_answer(name: str) -> Any:
    return inline_serializer(
        f"{name}Result", {"changed": serializers.BooleanField(), "group": CopyGroupSerializer()}
    )


def _follower_answer(name: str) -> Any:
    return inline_serializer(
        f"{name}Result",
        {"changed": serializers.BooleanField(), "follower": FollowerSerializer()},
    )


def _flatten_answer(user: Any, group: CopyGroup | None) -> Response:
    pending, created = flatten_request(user=user, group=group)
    return Response(
        {
            "flatten": FlattenRequestSerializer(pending, context={"created": created}).data,
            "engine_status": engine_status().status,
        },
        status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
    )


_FLATTEN_ANSWER = inline_serializer(
    "FlattenResult",
    {"flatten": FlattenRequestSerializer(), "engine_status": serializers.CharField()},
)


class CopyGroupViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """The user's copy groups (routes) and their actions."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = CopyGroup.objects.none()
    serializer_class = CopyGroupSerializer
    filterset_fields = ["enabled", "level", "pilot_route"]
    ordering_fields = ["name", "id", "level", "created_at"]
    ordering = ["name"]

    def get_queryset(self) -> QuerySet[CopyGroup]:
        return CopyGroup.objects.filter(owner=self.request.user).select_related("leader")

    @extend_schema(request=None, responses=_group_answer("GroupPause"))
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Pause the group (``copy_group_pause``): the leader's new entries are
        not copied; exits still are. ``changed`` False when already paused."""
        group = self.get_object()
        changed = copy_group_pause(group=group, actor=request.user)  # type: ignore[arg-type]
        group.refresh_from_db()
        return _changed(changed, "group", CopyGroupSerializer(group).data)

    @extend_schema(request=None, responses={403: _REAUTH})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """Refused (403): resuming a paused route needs a re-authentication
        (accounts/reauth.py), which only the dashboard asks for."""
        self.get_object()
        raise DashboardOnly("Resuming a paused route")

    @extend_schema(
        request=RouteLevelInput, responses={200: _group_answer("GroupLevel"), 403: _REAUTH}
    )
    @action(detail=True, methods=["post"])
    def level(self, request: Request, pk: str | None = None) -> Response:
        """Set the route level 0-4 with a reason (``route_level_set``,
        journaled). Leaving 4 Locked is refused (403): it needs a
        re-authentication, which only the dashboard asks for."""
        group = self.get_object()
        data = RouteLevelInput(data=request.data)
        data.is_valid(raise_exception=True)
        level = RouteLevel(data.validated_data["level"])
        if group.level == RouteLevel.LOCKED and level is not RouteLevel.LOCKED:
            raise DashboardOnly("Leaving level 4 Locked")
        changed = route_level_set(
            group=group,
            level=level,
            actor=request.user,  # type: ignore[arg-type]
            reason=data.validated_data["reason"],
            # The service refuses again if the engine locked the route meanwhile.
            unlock_confirmed=False,
        )
        group.refresh_from_db()
        return _changed(changed, "group", CopyGroupSerializer(group).data)

    @extend_schema(request=None, responses={202: _FLATTEN_ANSWER, 200: _FLATTEN_ANSWER})
    @action(detail=True, methods=["post"])
    def flatten(self, request: Request, pk: str | None = None) -> Response:
        """Emergency flatten (``flatten_request``, as the dashboard's button):
        the route goes to level 4 Locked now and the engine worker cancels
        working follower orders and closes every follower position. 202
        with the new request; 200 with the pending one when a flatten of this
        group is already under way (``created`` false). ``engine_status``
        "running", "stale" or "down": nothing closes until an engine runs."""
        return _flatten_answer(request.user, self.get_object())

    @extend_schema(
        methods=["GET", "PUT"],
        request=ContractMappingsInput,
        responses=inline_serializer(
            "ContractMappingsResult",
            {
                "changed": serializers.BooleanField(required=False),
                "mappings": serializers.DictField(child=serializers.CharField()),
            },
        ),
    )
    @action(detail=True, methods=["get", "put"])
    def mappings(self, request: Request, pk: str | None = None) -> Response:
        """GET the group's contract mappings (leader root -> follower root);
        PUT ``{"mappings": {...}}`` replaces them all (``contract_mappings_set``,
        as the dashboard's mappings editor: journaled, applied from the next
        leader event); an unknown or self-mapped product is a 400 on
        ``mappings``."""
        group = self.get_object()
        if request.method == "GET":
            return Response({"mappings": contract_mapping_pairs(group)})
        data = ContractMappingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        changed = contract_mappings_set(
            group=group,
            actor=request.user,  # type: ignore[arg-type]
            pairs=data.validated_data["mappings"].items(),
        )
        return Response({"changed": changed, "mappings": contract_mapping_pairs(group)})


class FlattenAllApi(ApiMixin, APIView):
    """``POST /api/v1/flatten/``: emergency flatten of all the user's groups
    (``flatten_request`` with no group, as the dashboard's "flatten all"):
    202 with the new request, 200 with the pending one; 400 without groups."""

    @extend_schema(request=None, responses={202: _FLATTEN_ANSWER, 200: _FLATTEN_ANSWER})
    def post(self, request: Request) -> Response:
        return _flatten_answer(request.user, None)


class FollowerViewSet(
    ApiMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,  # type: ignore[type-arg]
):
    """The followers of the user's groups; PATCH changes the ratio."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = Follower.objects.none()
    serializer_class = FollowerSerializer
    filterset_fields = ["group", "account", "enabled"]
    ordering_fields = ["id", "ratio"]
    ordering = ["group", "id"]

    def get_queryset(self) -> QuerySet[Follower]:
        return Follower.objects.filter(group__owner=self.request.user).select_related(
            "account", "group"
        )

    @extend_schema(request=FollowerUpdateInput, responses=_follower_answer("FollowerUpdate"))
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        """Change ``ratio`` (0.1-1000) and/or ``sizing_basis``
        (``follower_update``, journaled)."""
        follower = self.get_object()
        data = FollowerUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        changed = follower_update(
            follower=follower,
            actor=request.user,  # type: ignore[arg-type]
            data=dict(data.validated_data),
        )
        follower.refresh_from_db()
        return _changed(changed, "follower", FollowerSerializer(follower).data)

    @extend_schema(request=None, responses=_follower_answer("FollowerPause"))
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Pause the follower (``follower_pause``): new entries are not
        copied into it; exits still are."""
        follower = self.get_object()
        changed = follower_pause(follower=follower, actor=request.user)  # type: ignore[arg-type]
        follower.refresh_from_db()
        return _changed(changed, "follower", FollowerSerializer(follower).data)

    @extend_schema(request=None, responses={403: _REAUTH})
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """Refused (403): resuming a follower needs a re-authentication
        (accounts/reauth.py), which only the dashboard asks for."""
        self.get_object()
        raise DashboardOnly("Resuming a paused follower")

    @extend_schema(
        request=PositionActionInput,
        responses={
            202: inline_serializer(
                "PositionCloseResult",
                {"close": serializers.IntegerField(), "status": serializers.CharField()},
            )
        },
    )
    @action(detail=True, methods=["post"], url_path="close-position")
    def close_position(self, request: Request, pk: str | None = None) -> Response:
        """Close the follower's position in ``symbol`` at market, as the group
        page's *Close* does (``position_close_request``): queued for the
        engine worker that owns the leader (202), refused (400) when the
        position is flat, differs from ``qty`` or is already being closed."""
        follower = self.get_object()
        data = PositionActionInput(data=request.data)
        data.is_valid(raise_exception=True)
        pending = position_close_request(
            user=request.user,  # type: ignore[arg-type]
            group=follower.group,
            account_id=follower.account_id,
            symbol=data.validated_data["symbol"],
            seen_qty=data.validated_data["qty"],
        )
        return Response({"close": pending.pk, "status": pending.status}, status=202)

    @extend_schema(
        request=PositionActionInput,
        responses=inline_serializer(
            "PositionUntrackResult", {"untracked": serializers.IntegerField()}
        ),
    )
    @action(detail=True, methods=["post"], url_path="untrack-position")
    def untrack_position(self, request: Request, pk: str | None = None) -> Response:
        """Leave the ``qty`` contracts of ``symbol`` copying manages to the
        user, as the group page's *Untrack* does (``position_untrack``);
        refused (400) when copying manages another quantity or an order in
        that contract is open."""
        follower = self.get_object()
        data = PositionActionInput(data=request.data)
        data.is_valid(raise_exception=True)
        untracked = position_untrack(
            user=request.user,  # type: ignore[arg-type]
            group=follower.group,
            account_id=follower.account_id,
            symbol=data.validated_data["symbol"],
            seen_qty=data.validated_data["qty"],
        )
        return Response({"untracked": untracked})


class RiskLimitViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """The risk limits of the user's accounts; set them with
    ``PATCH /api/v1/accounts/{id}/risk-limits/``."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = RiskLimit.objects.none()
    serializer_class = RiskLimitSerializer
    filterset_fields = ["account"]
    ordering_fields = ["id", "account"]
    ordering = ["account"]

    def get_queryset(self) -> QuerySet[RiskLimit]:
        return RiskLimit.objects.filter(account__owner=self.request.user)


class CopyOrderViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """Copy orders of the user's groups, newest first."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = CopyOrder.objects.none()
    serializer_class = CopyOrderSerializer
    filterset_class = CopyOrderFilter
    ordering_fields = ["id", "created_at", "updated_at"]
    ordering = ["-id"]

    def get_queryset(self) -> QuerySet[CopyOrder]:
        return CopyOrder.objects.filter(group__owner=self.request.user)
