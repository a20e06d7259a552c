"""ASGI entry point: HTTP through Django, websockets through Channels.

In the embedded default the copy engine runs inside this process, on this
event loop, so the in-memory channel layer reaches the browsers' sockets; so
do the periodic jobs Celery beat runs otherwise (``copytrade.embedded_beat``).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "copytrade.settings.base")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from copytrade.embedded_beat import EmbeddedBeatStarter  # noqa: E402
from routing.runtime.embedded import EmbeddedEngineStarter  # noqa: E402
from routing.ws_urls import websocket_urlpatterns  # noqa: E402

application = EmbeddedBeatStarter(
    EmbeddedEngineStarter(
        ProtocolTypeRouter(
            {
                "http": django_asgi_app,
                "websocket": AllowedHostsOriginValidator(
                    AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
                ),
            }
        )
    )
)
