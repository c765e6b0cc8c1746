from django.contrib import admin

from friends.models import Friendship


@admin.register(Friendship)
class FriendshipAdmin(admin.ModelAdmin):
    list_display = ("user", "friend", "created_at")
    search_fields = ("user__name", "user__user_tag", "friend__name", "friend__user_tag")
    raw_id_fields = ("user", "friend")
