from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import User
from chatty.store import get_store


class Command(BaseCommand):
    help = "List who is connected, with their status and connection count."

    def handle(self, *args, **options) -> None:
        if not settings.REDIS_URL:
            self.stderr.write(
                "Presence lives inside the server process when REDIS_URL is not set; "
                "set REDIS_URL (the same as the server's) to see it from here."
            )
        counts = async_to_sync(get_store().connection_counts)()
        if not counts:
            self.stdout.write("Nobody is connected.")
            return
        users = User.objects.in_bulk(list(counts))
        self.stdout.write(f"{'user':<30} {'tag':<20} {'status':<8} connections")
        for user_id, n in sorted(counts.items(), key=lambda item: -item[1]):
            user = users.get(user_id)
            if user is None:
                continue
            self.stdout.write(f"{user.display_name[:30]:<30} {user.user_tag:<20} {user.chosen_status:<8} {n}")
