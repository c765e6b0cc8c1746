from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.tokens import issue_token


class Command(BaseCommand):
    help = "Print a bearer token for a user."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--minutes", type=int, default=settings.API_TOKEN_DEFAULT_MINUTES)

    def handle(self, *args, username: str, minutes: int, **options) -> None:
        if minutes < 1:
            raise CommandError("--minutes must be at least 1.")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        token, _ = issue_token(user=user, minutes=minutes)
        self.stdout.write(token)
