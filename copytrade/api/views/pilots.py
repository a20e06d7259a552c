"""The public leaderboard's pilots, and the user's own subscriptions (read)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from copytrade.api.base import ApiMixin
from copytrade.api.serializers.pilots import PilotRowSerializer, SubscriptionSerializer
from pilots.board_selectors import (
    HISTORY_DAYS,
    PER_PAGE,
    SORTS,
    BoardFilters,
    leaderboard,
    pilot_for_viewer,
    pilot_profile,
)
from pilots.models import Subscription


class BoardQuery(serializers.Serializer[None]):
    """The board's filters as /pilots/ takes them; ``section`` "listed"
    (ranked) or "waiting" (not listed yet, with the reasons)."""

    section = serializers.ChoiceField(choices=["listed", "waiting"], default="listed")
    market = serializers.CharField(required=False, default="", max_length=10)
    min_days = serializers.ChoiceField(choices=[0, *HISTORY_DAYS], default=0)
    verified_only = serializers.BooleanField(default=False)
    sort = serializers.ChoiceField(choices=list(SORTS), default="score")
    descending = serializers.BooleanField(default=True)
    page = serializers.IntegerField(min_value=1, default=1)


class PilotBoardApi(ApiMixin, GenericAPIView):  # type: ignore[type-arg]
    """``GET /api/v1/pilots/``: one page (25 pilots) of the leaderboard,
    as /pilots/ shows it: display name, markets, nominal size, record, a
    follower count; never an owner or an account."""

    serializer_class = PilotRowSerializer
    pagination_class = None
    filter_backends: list[type] = []

    @extend_schema(
        parameters=[BoardQuery],
        responses=inline_serializer(
            "PilotBoardPage",
            {
                "count": serializers.IntegerField(),
                "page": serializers.IntegerField(),
                "num_pages": serializers.IntegerField(),
                "per_page": serializers.IntegerField(),
                "markets": serializers.ListField(child=serializers.CharField()),
                "results": PilotRowSerializer(many=True),
            },
        ),
        tags=["pilots"],
        operation_id="pilots_list",
    )
    def get(self, request: Request) -> Response:
        query = BoardQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        filters = BoardFilters(
            market=q["market"].strip().upper(),
            min_days=int(q["min_days"]),
            verified_only=q["verified_only"],
            sort=q["sort"],
            descending=q["descending"],
        )
        listed = q["section"] == "listed"
        board = leaderboard(
            filters, page=q["page"] if listed else 1, waiting_page=1 if listed else q["page"]
        )
        page = board.listed if listed else board.waiting
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "num_pages": page.paginator.num_pages,
                "per_page": PER_PAGE,
                "markets": list(board.markets),
                "results": PilotRowSerializer(page.object_list, many=True).data,
            }
        )


class PilotDetailApi(ApiMixin, GenericAPIView):  # type: ignore[type-arg]
    """``GET /api/v1/pilots/{id}/``: one pilot's board row (404 for a
    rejected pilot, except to its owner, as the profile page)."""

    serializer_class = PilotRowSerializer
    pagination_class = None
    filter_backends: list[type] = []

    @extend_schema(tags=["pilots"])
    def get(self, request: Request, pilot_id: int) -> Response:
        pilot = pilot_for_viewer(pilot_id=pilot_id, viewer=request.user)  # type: ignore[arg-type]
        if pilot is None:
            raise Http404("No such pilot")
        row = pilot_profile(pilot=pilot, viewer=request.user).row  # type: ignore[arg-type]
        return Response(PilotRowSerializer(row).data)


class SubscriptionViewSet(ApiMixin, viewsets.ReadOnlyModelViewSet):  # type: ignore[type-arg]
    """The user's own pilot subscriptions, newest first."""

    # The schema generator reads the model here (get_queryset needs a user).
    queryset = Subscription.objects.none()
    serializer_class = SubscriptionSerializer
    filterset_fields = ["status", "pilot"]
    ordering_fields = ["id", "started_at"]
    ordering = ["-started_at", "-id"]

    def get_queryset(self) -> QuerySet[Subscription]:
        return Subscription.objects.filter(subscriber=self.request.user).select_related("pilot")
