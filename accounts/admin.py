import functools

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import models
from django.http import HttpResponse
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.services import user_deactivate
from chatty import limits
from chatty.errors import RateLimited


def rate_limited_login(view):
    """The admin's own login, limited like allauth's: failed attempts per username and per
    address (chatty/limits.py); once either budget is spent, no password is even tried."""

    @functools.wraps(view)
    def login(request, extra_context=None):
        if request.method != "POST":
            return view(request, extra_context)
        username = request.POST.get("username", "")[:150].strip().lower()
        address = request.META.get("REMOTE_ADDR") or "-"
        try:
            limits.check("adminLoginFailed", username)
            limits.check("adminLoginFailedAddress", address)
        except RateLimited:
            return HttpResponse(
                _("Too many failed sign-in attempts. Try again later."),
                status=429,
                content_type="text/plain; charset=utf-8",
            )
        response = view(request, extra_context)
        if response.status_code == 200:  # the form again: the attempt failed (a success redirects)
            try:
                limits.hit("adminLoginFailed", username)
                limits.hit("adminLoginFailedAddress", address)
            except RateLimited:
                pass  # this one is answered; the next is refused before its password is tried
        return response

    return login


admin.site.login = rate_limited_login(admin.site.login)


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
            count += 1
        self.message_user(request, f"Deactivated {count} user(s).", messages.SUCCESS)

    def save_model(self, request, obj, form, change) -> None:
        super().save_model(request, obj, form, change)
        # Unticking "active" in the form is a deactivation too: close the user's sockets.
        if change and "is_active" in form.changed_data and not obj.is_active:
            user_deactivate(user=obj)
