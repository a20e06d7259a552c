"""Content Security Policy (issue 14), sent by Django's own middleware
(``django.middleware.csp``, Django 6.0+) on every response.

The policy allows what the pages load from this site and nothing else:

- scripts: files from this origin, or an inline ``<script>`` carrying the
  request's nonce (``nonce="{{ csp_nonce }}"``, from the ``csp`` context
  processor). No ``'unsafe-inline'``, no ``'unsafe-eval'``: no page and no
  library we serve needs them (uPlot, the feed and Django's admin run
  without). Inline event handlers (``onclick=``) cannot carry a nonce, so
  the templates have none; their code lives in static/js/.
- styles: stylesheets from this origin or carrying the nonce. Inline
  ``style=""`` attributes are refused (style-src-attr falls back to
  style-src, and a nonce never covers an attribute): the templates have
  none. Scripts that size elements (uPlot) set ``element.style`` through
  the CSSOM, which CSP does not restrict.
- images: this origin and ``data:`` URLs. The QR code of the two-factor
  page is inline ``<svg>`` markup, not an image, and needs neither.
- connections: ``'self'``, which in CSP Level 3 also matches ``ws:``/``wss:``
  to this host and port (Chromium, Firefox, Safari 15.4+): the live feed's
  websocket (static/js/feed.js) is covered without allowing other hosts.
- no plugins (``object-src 'none'``), ``<base>`` and form targets on this
  origin only, and no framing by any page (``frame-ancestors 'none'``, the
  CSP successor of ``X-Frame-Options: DENY``, which is still sent).
- behind TLS (``HTTPS=true``) the browser also upgrades any ``http:``
  sub-resource URL to ``https:`` (``upgrade-insecure-requests``).
"""

from __future__ import annotations

from django.utils.csp import CSP

from copytrade.settings.security import HTTPS

SECURE_CSP: dict[str, list[str] | bool] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "upgrade-insecure-requests": HTTPS,
}
