from django.urls import path

from chats import media, views

urlpatterns = [
    path("dashboard", views.dashboard, name="dashboard"),
    path("dashboard/chat/<int:room_id>", views.room, name="room"),
    path("dashboard/chat/<int:room_id>/history", views.history_page, name="room-history"),
    path("dashboard/chat/<int:room_id>/send", views.send, name="room-send"),
    path("dashboard/chat/<int:room_id>/leave", views.leave, name="room-leave"),
    path("dashboard/chat/<int:room_id>/settings", views.group_settings, name="room-settings"),
    path("dashboard/chat/<int:room_id>/mute", views.mute, name="room-mute"),
    path("dashboard/chat/<int:room_id>/rename", views.rename_group, name="room-rename"),
    path("dashboard/chat/<int:room_id>/add", views.add_members, name="room-add"),
    path("dashboard/name", views.set_name, name="set-name"),
    path("dashboard/chat/<int:room_id>/messages/<int:message_id>/edit", views.edit_message, name="message-edit"),
    path("dashboard/chat/<int:room_id>/messages/<int:message_id>/delete", views.delete_message, name="message-delete"),
    path("dashboard/search", views.search, name="search"),
    path("dashboard/friends/add", views.add_friend, name="add-friend"),
    path("dashboard/chats/new", views.new_chat, name="new-chat"),
    path("media/att/<int:attachment_id>/t/thumbnail.webp", media.attachment_thumbnail, name="attachment-thumbnail"),
    path("media/att/<int:attachment_id>/<str:name>", media.attachment_file, name="attachment-file"),
]
