"""Moderation (SPEC §5): browse rooms with their members and messages; delete a message.

Rooms and messages are read-only here: creating or editing them from the admin would skip
the services and the events they publish (and the friendship rule for rooms). Deleting a
message goes through `message_delete`, which tells live clients.
"""

from django.contrib import admin
from django.db.models import Prefetch

from chats.models import ChatRoom, Message, Participant
from chats.services import message_delete

SHORT_TEXT = 80


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    fields = ("user", "last_read_id", "unread_count", "joined_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user").order_by("id")


@admin.register(ChatRoom)
class ChatRoomAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "members", "created_at", "last_activity_at")
    list_filter = ("kind",)
    search_fields = ("participants__user__name", "participants__user__username", "participants__user__user_tag")
    fields = ("kind", "created_by", "created_at", "last_activity_at", "last_message")
    inlines = [ParticipantInline]
    show_full_result_count = False

    def get_queryset(self, request):
        members = Participant.objects.select_related("user").order_by("id")
        return super().get_queryset(request).prefetch_related(Prefetch("participants", queryset=members))

    def has_delete_permission(self, request, obj=None) -> bool:
        # Deleting a room would silently take it from its members' screens.
        return False

    @admin.display(description="members")
    def members(self, obj: ChatRoom) -> str:
        return ", ".join(p.user.display_name for p in obj.participants.all())


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("id", "room", "sender", "short_text", "created_at")
    search_fields = ("text", "sender__name", "sender__username", "sender__user_tag")
    fields = ("room", "sender", "text", "created_at", "client_id")
    list_select_related = ("room", "sender")
    actions = ["delete_and_notify"]
    # A million messages: no COUNT(*) of the whole table on every page.
    show_full_result_count = False

    @admin.display(description="text")
    def short_text(self, obj: Message) -> str:
        return obj.text if len(obj.text) <= SHORT_TEXT else obj.text[: SHORT_TEXT - 1] + "…"

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Deleting goes through the service so live clients hear of it.
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Delete selected messages (live clients remove them)", permissions=["delete"])
    def delete_and_notify(self, request, queryset) -> None:
        self.log_deletions(request, queryset)  # the admin's audit trail, before the rows go
        count = 0
        for message in queryset:
            message_delete(message=message)
            count += 1
        self.message_user(request, f"Deleted {count} message(s).")

    def delete_model(self, request, obj: Message) -> None:
        message_delete(message=obj)

    def delete_queryset(self, request, queryset) -> None:
        for message in queryset:
            message_delete(message=message)
