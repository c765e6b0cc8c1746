from django.contrib import admin

from friends.models import Friendship


@admin.register(Friendship)
class FriendshipAdmin(admin.ModelAdmin):
    """Browse only: a friendship is two rows that the services write and remove together
    (and announce); editing one row here would leave it one-sided."""

    list_display = ("user", "friend", "created_at")
    search_fields = ("user__name", "user__user_tag", "friend__name", "friend__user_tag")
    list_select_related = ("user", "friend")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
