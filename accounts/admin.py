from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User
from accounts.services import user_deactivate


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "name", "user_tag", "is_active", "date_joined")
    search_fields = ("username", "name", "user_tag", "email")
    readonly_fields = ("user_tag",)
    fieldsets = (*BaseUserAdmin.fieldsets, ("Chatty", {"fields": ("name", "picture", "user_tag", "chosen_status")}))
    actions = ["deactivate"]

    @admin.action(description="Deactivate (block sign-in and tokens, close live sockets)")
    def deactivate(self, request, queryset) -> None:
        for user in queryset:
            user_deactivate(user=user)
        self.message_user(request, f"Deactivated {queryset.count()} user(s).", messages.SUCCESS)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        # Unticking "active" in the form is a deactivation too: close the user's sockets.
        if change and "is_active" in form.changed_data and not obj.is_active:
            user_deactivate(user=obj)
