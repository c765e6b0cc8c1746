from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import tokens_revoke


class Command(BaseCommand):
    help = "Revoke every bearer token issued to a user so far (sockets opened with one close at their next check)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")

    def handle(self, *args, username: str, **options) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        tokens_revoke(user=user)
        self.stdout.write(f"Revoked every token of {username}.")
