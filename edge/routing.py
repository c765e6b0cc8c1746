from django.urls import path

from edge.consumer import Edge

websocket_urlpatterns = [
    path("ws/", Edge(ui=False)),
    path("ws/ui/", Edge(ui=True)),
]
