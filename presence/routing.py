from django.urls import path

from presence.consumers import ChatConsumer
from presence.ui import UiConsumer

websocket_urlpatterns = [
    path("ws/", ChatConsumer.as_asgi()),
    path("ws/ui/", UiConsumer.as_asgi()),
]
