import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

from accounts.models import User


class Command(BaseCommand):
    help = "Create a local user and print {id, username, userTag} as JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="")
        parser.add_argument("--password", default=None)
        parser.add_argument("--picture", default="")

    def handle(self, *args, username: str, name: str, password: str | None, picture: str, **options) -> None:
        if User.objects.filter(username=username).exists():
            raise CommandError(f"A user named {username!r} already exists.")
        user = User(username=username, name=name or username, picture=picture)
        try:
            # The same rules as sign-up: a username people can type, a picture that is a URL.
            user.full_clean(exclude=["password", "user_tag"])
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(problems) from exc
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        try:
            user.save()
        except IntegrityError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(json.dumps({"id": str(user.pk), "username": user.username, "userTag": user.user_tag}))
