from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import models

from accounts.models import User
from accounts.services import user_deactivate


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ("username", "name", "user_tag", "is_active", "date_joined")
    search_fields = ("username", "name", "user_tag", "email")
    readonly_fields = ("user_tag",)
    fieldsets = (*BaseUserAdmin.fieldsets, ("Chatty", {"fields": ("name", "picture", "user_tag", "chosen_status")}))
    actions = ["deactivate"]
    # Pictures are https links; Django 6 assumes that for scheme-less input, say so already.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    @admin.action(description="Deactivate (block sign-in and tokens, close live sockets)", permissions=["change"])
    def deactivate(self, request, queryset) -> None:
        count = 0
        for user in queryset:
            user_deactivate(user=user)
            self.log_change(request, user, "Deactivated by an admin action.")  # the admin's audit trail
            count += 1
        self.message_user(request, f"Deactivated {count} user(s).", messages.SUCCESS)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        # Unticking "active" in the form is a deactivation too: close the user's sockets.
        if change and "is_active" in form.changed_data and not obj.is_active:
            user_deactivate(user=obj)
