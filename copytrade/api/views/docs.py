"""The API's Swagger UI under the site's Content Security Policy."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerView


class ApiDocsView(SpectacularSwaggerView):
    """``/api/v1/docs/``: Swagger UI from drf-spectacular-sidecar's files
    (served by this site, no CDN). The template (templates/api/swagger_ui.html)
    gives its inline script and style the request's CSP nonce."""

    template_name = "api/swagger_ui.html"
    url_name = "api-schema"
