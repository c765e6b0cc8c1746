from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.tokens import issue_token

# Operators may issue long-lived tokens (load generators, scripts), but not ones whose
# expiry no date can hold.
MAX_MINUTES = 10 * 365 * 24 * 60


class Command(BaseCommand):
    help = "Print a bearer token for a user."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--minutes", type=int, default=settings.API_TOKEN_DEFAULT_MINUTES)

    def handle(self, *args, username: str, minutes: int, **options) -> None:
        if not 1 <= minutes <= MAX_MINUTES:
            raise CommandError(f"--minutes must be between 1 and {MAX_MINUTES} (ten years).")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        token, _ = issue_token(user=user, minutes=minutes)
        self.stdout.write(token)
