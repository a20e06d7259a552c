"""What every REST API view shares: authentication, permission, throttles,
JSON only, pagination, filters, and service refusals as 400."""

from __future__ import annotations

from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import APIException
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from copytrade.api.permissions import IsAuthenticated
from copytrade.api.throttling import ApiAnonThrottle, ApiUserThrottle
from copytrade.core.errors import ApplicationError


class ApiPagination(PageNumberPagination):
    """``?page=N`` (from 1) and ``?page_size=`` (default 50, at most 200);
    answers ``{"count", "next", "previous", "results"}``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ServiceRefused(APIException):
    """400 carrying a service's :class:`ApplicationError`: ``{"detail": message}``,
    plus ``{field: [message]}`` when the service names the field at fault."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "refused"

    def __init__(self, exc: ApplicationError) -> None:
        detail: dict[str, Any] = {"detail": exc.message}
        if exc.field:
            detail[exc.field] = [exc.message]
        super().__init__(detail=detail)


class ApiMixin:
    """Token first (an unauthenticated call answers 401 with
    ``WWW-Authenticate: Token``), then the site's session (CSRF checked on
    writes); JSON only (the browsable API's inline scripts would break the
    site's Content Security Policy)."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [ApiUserThrottle, ApiAnonThrottle]
    renderer_classes = [JSONRenderer]
    pagination_class = ApiPagination
    filter_backends = [DjangoFilterBackend, OrderingFilter]

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, ApplicationError):
            exc = ServiceRefused(exc)
        return super().handle_exception(exc)  # type: ignore[misc]
