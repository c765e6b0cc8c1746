"""ASGI entry point: HTTP through Django, /ws/ through the Chatty consumer."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatty.settings")

from django.core.asgi import get_asgi_application

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from presence.middleware import websocket_stack  # noqa: E402
from presence.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": websocket_stack(URLRouter(websocket_urlpatterns)),
    }
)
