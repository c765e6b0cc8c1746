from django.contrib import admin

from chats.models import ChatRoom, Message, Participant
from chats.services import message_delete


class ParticipantInline(admin.TabularInline):
    model = Participant
    extra = 0
    raw_id_fields = ("user",)
    readonly_fields = ("last_read_id", "joined_at")


@admin.register(ChatRoom)
class ChatRoomAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "created_by", "created_at", "last_activity_at")
    list_filter = ("kind",)
    search_fields = ("participants__user__name", "participants__user__user_tag")
    raw_id_fields = ("created_by", "last_message")
    inlines = [ParticipantInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "room", "sender", "short_text", "created_at")
    search_fields = ("text", "sender__name", "sender__user_tag")
    raw_id_fields = ("room", "sender")
    list_select_related = ("room", "sender")
    actions = ["delete_and_notify"]
    show_full_result_count = False

    @admin.display(description="text")
    def short_text(self, obj: Message) -> str:
        return obj.text if len(obj.text) <= 80 else obj.text[:79] + "…"

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Deleting goes through the service so live clients hear of it.
        actions.pop("delete_selected", None)
        return actions

    @admin.action(description="Delete selected messages (live clients remove them)")
    def delete_and_notify(self, request, queryset) -> None:
        count = 0
        for message in queryset:
            message_delete(message=message)
            count += 1
        self.message_user(request, f"Deleted {count} message(s).")

    def delete_model(self, request, obj: Message) -> None:
        message_delete(message=obj)
