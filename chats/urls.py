from django.urls import path

from chats import views

urlpatterns = [
    path("dashboard", views.dashboard, name="dashboard"),
]
