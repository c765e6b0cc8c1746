from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from chats import seeding


class Command(BaseCommand):
    help = (
        "Fill the database for demos and benchmarks (bulk inserts): users with friends, group rooms "
        "whose members are friends, and messages spread over the rooms. Adds to what is there."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--users", type=int, default=seeding.DEFAULT_USERS, help="new users (N)")
        parser.add_argument("--friends", type=int, default=seeding.DEFAULT_FRIENDS, help="friends per user (F)")
        parser.add_argument("--rooms", type=int, default=seeding.DEFAULT_ROOMS, help="group rooms (R)")
        parser.add_argument("--room-size", type=int, default=seeding.DEFAULT_ROOM_SIZE, help="members per room (K)")
        parser.add_argument("--messages", type=int, default=seeding.DEFAULT_MESSAGES, help="messages (M)")
        parser.add_argument("--manifest", type=Path, default=None, help="write users, tokens and rooms as JSON")
        parser.add_argument("--password", default=None, help="password for every new user (default: none)")
        parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable data")

    def handle(self, *args, manifest: Path | None, **options) -> None:
        opts = seeding.SeedOptions(
            users=options["users"],
            friends=options["friends"],
            rooms=options["rooms"],
            room_size=options["room_size"],
            messages=options["messages"],
            password=options["password"],
            seed=options["seed"],
        )
        try:
            result = seeding.seed(opts, log=self.stdout.write)
        except seeding.SeedError as exc:
            raise CommandError(str(exc)) from exc
        if result.friends_per_user != opts.friends:
            self.stdout.write(
                f"note: {result.friends_per_user} friends per user instead of {opts.friends} (every room's members "
                "must be friends of each other; an odd --friends needs an even --users)"
            )
        if manifest is not None:
            seeding.write_manifest(result, manifest)
            made = f"{len(result.users)} users with tokens, {len(result.rooms)} rooms"
            self.stdout.write(f"manifest: {manifest} ({made})")
        busiest = max(result.rooms, key=lambda room: room.message_count, default=None)
        self.stdout.write(
            self.style.SUCCESS(
                f"seeded {len(result.users)} users, {result.friendships // 2} friendships, {len(result.rooms)} rooms, "
                f"{result.participants} participants, {result.messages} messages in {result.total_seconds:.1f}s"
                + (f"; biggest room {busiest.id} with {busiest.message_count} messages" if busiest else "")
            )
        )
