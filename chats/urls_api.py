from django.urls import path

from chats import api, api_search, api_upload

urlpatterns = [
    path("chat-list", api.chat_list, name="api-chat-list"),
    path("create-chat", api.create_chat, name="api-create-chat"),
    path("chat-info", api.chat_info, name="api-chat-info"),
    path("edit-message", api.edit_message, name="api-edit-message"),
    path("delete-message", api.delete_message, name="api-delete-message"),
    path("react", api.react, name="api-react"),
    path("mark-unread", api.mark_unread_view, name="api-mark-unread"),
    path("mute", api.mute, name="api-mute"),
    path("rename", api.rename, name="api-rename"),
    path("add-members", api.add_members, name="api-add-members"),
    path("leave", api.leave, name="api-leave"),
    path("search", api_search.search, name="api-chat-search"),
    path("upload", api_upload.upload, name="api-chat-upload"),
]
