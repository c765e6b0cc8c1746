from django.urls import path

from chats import api, api_search, api_upload

urlpatterns = [
    path("chat-list", api.chat_list, name="api-chat-list"),
    path("create-chat", api.create_chat, name="api-create-chat"),
    path("chat-info", api.chat_info, name="api-chat-info"),
    path("search", api_search.search, name="api-chat-search"),
    path("upload", api_upload.upload, name="api-chat-upload"),
]
