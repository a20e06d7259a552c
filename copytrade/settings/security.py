"""Transport security for a deployment behind TLS, from the environment.

``HTTPS=true`` is the one switch a deployment behind TLS sets (README,
"Deployment behind TLS"): every redirect to https, the session and CSRF
cookies marked ``Secure``, and HTTP Strict Transport Security for
``SECURE_HSTS_SECONDS`` (default one year once ``HTTPS`` is on, as
Django's deployment checklist and OWASP ASVS 9.1 ask). Each setting can be
set on its own too. Behind a reverse proxy that terminates TLS,
``SECURE_PROXY_SSL_HEADER=true`` trusts its ``X-Forwarded-Proto`` header
(only when the proxy always sets it and strips the client's).

Without ``HTTPS`` (the embedded default, ``make run`` on 127.0.0.1) none of
this is on: the dashboard is served over plain http on the loopback.
"""

from __future__ import annotations

from copytrade.env import envbool, envint

HTTPS = envbool("HTTPS", default=False)
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", default=HTTPS)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", default=HTTPS)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", default=HTTPS)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
# On with HTTPS, as ``check --deploy`` asks: a dashboard holding broker
# credentials gets its own host name, whose subdomains serve nothing over
# http. An operator whose subdomains do sets SECURE_HSTS_INCLUDE_SUBDOMAINS=false
# (and SECURE_HSTS_PRELOAD=false) and accepts the two warnings.
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", default=HTTPS)
if envbool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health check answers the load balancer over plain http inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
