"""ASGI entry point: HTTP through Django, /ws/ through the Chatty consumer."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatty.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import WebsocketDenier  # noqa: E402
from django.urls import re_path  # noqa: E402

from edge.routing import websocket_urlpatterns  # noqa: E402
from presence.middleware import websocket_stack  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_stack(
            # Any other path is refused at the handshake instead of failing with a traceback.
            URLRouter([*websocket_urlpatterns, re_path(r"", WebsocketDenier.as_asgi())])
        ),
    }
)
