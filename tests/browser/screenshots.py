"""Screenshots of Chatty's main pages for the README, at desktop and phone widths.

Run by hand (not part of the test suite):

    .venv/bin/python tests/browser/screenshots.py

It makes a throw-away SQLite database with a few people, friends, chats and messages,
serves it with daphne (DEBUG off), and saves PNGs to docs/screenshots/: the login page, the
dashboard, a room, and the add-friend dialog, each as `<page>-desktop.png` (1280x800) and
`<page>-phone.png` (390x844); and a group room's messages (a reply, reactions, read receipts,
the reply bar) as `messages-desktop.png`.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
OUT = BASE_DIR / "docs" / "screenshots"
MAX_BYTES = 150 * 1024


def server_env(db_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DJANGO_SETTINGS_MODULE="chatty.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost,testserver",
        DATABASE_URL=f"sqlite:///{db_path}",
        # Never contacted: they only make the sign-in page show its provider buttons.
        GOOGLE_CLIENT_ID="screenshots",
        GOOGLE_CLIENT_SECRET="screenshots",
        GITHUB_CLIENT_ID="screenshots",
        GITHUB_CLIENT_SECRET="screenshots",
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
    )
    return env


def seed() -> dict[str, object]:
    """People, friendships, two chats with messages; returns what the pages need."""
    from django.contrib.auth.models import update_last_login
    from django.test import Client

    from accounts.models import User
    from chats.models import Message
    from chats.services import message_send, reaction_toggle, read_mark, room_create
    from friends.services import friendship_create

    def person(username: str, name: str, status: str = "online") -> User:
        user = User(username=username, name=name, chosen_status=status)
        user.set_unusable_password()
        user.save()
        return user

    minsu = person("minsu", "Minsu Kim")
    ana = person("ana", "Ana Lee")
    ben = person("ben", "Ben Park", status="away")
    cho = person("cho", "Cho Yuna")
    for friend in (ana, ben, cho):
        friendship_create(user=minsu, friend_tag=friend.user_tag)
    friendship_create(user=ana, friend_tag=ben.user_tag)

    direct, _ = room_create(creator=minsu, friend_ids=[ana.pk])
    group, _ = room_create(creator=minsu, friend_ids=[ana.pk, ben.pk, cho.pk])
    for sender, text in [
        (ana, "Hi Minsu! Are we still on for lunch tomorrow?"),
        (minsu, "Yes! 12:30 at the noodle place?"),
        (ana, "Perfect. I'll book a table for two."),
        (minsu, "Great, see you there!"),
        (ana, "Oh, and can you bring the book I lent you?\nThe one about gardens."),
        (minsu, "Will do."),
    ]:
        message_send(sender=sender, room_id=direct.pk, text=text)
    for sender, text in [
        (ben, "Weekend hike: Saturday 9:00 at the station?"),
        (cho, "I'm in!"),
        (ana, "Count me in too"),
        (ben, "Bring water and a snack."),
    ]:
        message_send(sender=sender, room_id=group.pk, text=text)
    read_mark(user=minsu, room_id=direct.pk)
    # The group shows what messages can do: a reply, reactions, who has seen it.
    hike = Message.objects.filter(room_id=group.pk).order_by("id").first()
    answer, _ = message_send(
        sender=minsu, room_id=group.pk, text="Count me in! I'll bring snacks 🍙", reply_to_id=hike.pk
    )
    for user, emoji in ((ana, "👍"), (cho, "👍"), (minsu, "🎉")):
        reaction_toggle(user=user, message_id=hike.pk, emoji=emoji)
    reaction_toggle(user=ben, message_id=answer.pk, emoji="❤️")
    for reader in (ana, ben):
        read_mark(user=reader, room_id=group.pk)

    def cookie(user: User) -> str:
        client = Client()
        client.force_login(user)
        update_last_login(None, user)
        return client.cookies["sessionid"].value

    return {"direct": direct.pk, "group": group.pk, "sessions": {u.username: cookie(u) for u in (minsu, ana, ben)}}


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="chatty-shots-"))
    env = server_env(workdir / "shots.sqlite3")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=BASE_DIR, env=env, check=True)
    os.environ.update(env)
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    data = seed()

    from playwright.sync_api import expect, sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, ChattyServer, connected

    server = ChattyServer(env, name="screenshots")
    server.start()
    OUT.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)

            def context(user: str | None, viewport: dict[str, int]):
                ctx = browser.new_context(
                    base_url=server.url,
                    viewport=viewport,
                    locale="en-US",
                    reduced_motion="reduce",
                    device_scale_factor=1,
                )
                if user:
                    ctx.add_cookies([{"name": "sessionid", "value": data["sessions"][user], "url": server.url}])
                return ctx

            # Friends connected, so the dots show each state: Ana online, Ben away, Cho offline.
            for friend in ("ana", "ben"):
                page = context(friend, DESKTOP).new_page()
                page.goto("/dashboard")
                connected(page)

            def shot(page, name: str) -> None:
                page.wait_for_load_state("networkidle")
                path = OUT / f"{name}.png"
                page.screenshot(path=path, animations="disabled", caret="hide")
                saved.append(path)

            for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
                page = context(None, viewport).new_page()
                page.goto("/login")
                shot(page, f"login-{label}")

                page = context("minsu", viewport).new_page()
                page.goto("/dashboard")
                connected(page)
                expect(page.locator(".friend .dot.online")).to_have_count(1)
                expect(page.locator(".friend .dot.away")).to_have_count(1)
                if label == "phone":
                    page.locator(".menu-button").click()
                    expect(page.locator("#sidebar")).to_be_in_viewport()
                shot(page, f"dashboard-{label}")
                page.get_by_role("button", name="Add friend").click()  # on a phone: in the open sidebar
                expect(page.locator("#add-friend-dialog")).to_be_visible()
                page.locator("#friend-tag").fill("yuna#20417")
                shot(page, f"add-friend-{label}")

                page.goto(f"/dashboard/chat/{data['direct']}")
                connected(page)
                page.locator("#composer-text").fill("See you tomorrow!")
                shot(page, f"room-{label}")

                if label == "desktop":
                    # A group: a reply with its quote, reactions, "Seen by 2", and a reply being written.
                    page.goto(f"/dashboard/chat/{data['group']}")
                    connected(page)
                    expect(page.locator(".receipt")).to_contain_text("Seen by 2")
                    last = page.locator("#messages li.msg[data-id]").filter(has_text="Bring water")
                    last.hover()
                    last.locator(".msg-more").click()
                    page.get_by_role("menuitem", name="Reply").click()
                    page.locator("#composer-text").fill("Good idea, I'll pack two bottles")
                    shot(page, "messages-desktop")
            browser.close()
    finally:
        server.close()
    too_big = [p for p in saved if p.stat().st_size > MAX_BYTES]
    for path in saved:
        print(f"{path.relative_to(BASE_DIR)}  {path.stat().st_size // 1024} KB")
    if too_big:
        print(f"over {MAX_BYTES // 1024} KB: {', '.join(p.name for p in too_big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
