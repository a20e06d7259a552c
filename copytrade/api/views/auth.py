"""``POST /api/v1/auth/token/``: a username and password for an API token."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import (
    BaseAuthentication,
    SessionAuthentication,
    TokenAuthentication,
)
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from copytrade.api.throttling import ApiTokenThrottle

LOCKED_OUT = (
    "Too many failed logins for this username from your address: try again later "
    "(the site's login is locked the same way)."
)
REFUSED = "Unable to log in with the username and password given."


class TokenInput(serializers.Serializer[None]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=4096, trim_whitespace=False)


class TokenCreateApi(APIView):
    """POST: the user's API token (the same one on every call until
    revoked); send it as ``Authorization: Token <key>``. DELETE (with the
    token or a session): revoke it; the next POST makes a new one.

    The password is checked by ``django.contrib.auth.authenticate`` with the
    request, so django-axes counts every failure and refuses a locked-out
    username and address like the site's login (429, ``Retry-After`` the
    cool-off). Wrong credentials: 400; more than ``API_THROTTLE_RATES["token"]``
    requests from one address: 429.
    """

    permission_classes = [AllowAny]
    throttle_classes = [ApiTokenThrottle]
    renderer_classes = [JSONRenderer]

    def get_authenticators(self) -> list[BaseAuthentication]:
        # Asking for a token takes a password and nothing else; revoking one
        # takes the caller's credentials.
        # (The schema generator calls this without a request.)
        request = getattr(self, "request", None)
        if request is not None and request.method == "POST":
            return []
        return [TokenAuthentication(), SessionAuthentication()]

    @extend_schema(
        request=TokenInput,
        responses={200: inline_serializer("Token", {"token": serializers.CharField()})},
        auth=[],
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        django_request = request._request
        user = authenticate(
            request=django_request,
            username=data.validated_data["username"],
            password=data.validated_data["password"],
        )
        if user is None:
            if getattr(django_request, "axes_locked_out", False):
                # 429 as the site's login answers a locked-out pair. The lockout is
                # recorded and signalled already; clearing the flag keeps axes'
                # middleware from swapping this JSON answer for its HTML page.
                django_request.axes_locked_out = False
                return Response(
                    {"detail": LOCKED_OUT},
                    status=status.HTTP_429_TOO_MANY_REQUESTS,
                    headers={"Retry-After": str(int(settings.AXES_COOLOFF_TIME.total_seconds()))},
                )
            return Response({"non_field_errors": [REFUSED]}, status=status.HTTP_400_BAD_REQUEST)
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def delete(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            raise NotAuthenticated()
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
