"""The API's Swagger UI under the site's Content Security Policy."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularSwaggerView
from rest_framework.request import Request
from rest_framework.response import Response


class ApiDocsView(SpectacularSwaggerView):
    """``/api/v1/docs/``: Swagger UI from drf-spectacular-sidecar's files
    (served by this site, no CDN). The template (templates/api/swagger_ui.html)
    gives its inline script and style the request's CSP nonce."""

    template_name = "api/swagger_ui.html"
    url_name = "api-schema"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        # drf-spectacular loosens Cross-Origin-Opener-Policy for OAuth2's
        # pop-up, which this API does not use: the site's "same-origin"
        # (SecurityMiddleware, settings/security.py) applies again.
        del response["Cross-Origin-Opener-Policy"]
        return response
