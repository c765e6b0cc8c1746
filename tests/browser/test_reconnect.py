"""A message survives a dropped connection: the page keeps it, reconnects, resends it once and catches up."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import LIVE, connected, message

pytestmark = pytest.mark.django_db(transaction=True)

RECONNECT = 30_000  # ms: htmx's ws extension backs off with full jitter, at most 8 s apart (chatty.js)


def test_message_written_while_the_server_is_down_is_sent_once_after_it_returns(live):
    from chats.models import Message

    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    before = live.send(ben, room, "before the outage")
    sent: list[dict] = []  # every frame the page sends, on every socket it opens
    page = live.context(ana).new_page()
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    page.goto(f"/dashboard/chat/{room.pk}")
    connected(page)
    expect(message(page, "before the outage", mine=False)).to_have_count(1)

    live.server.kill()
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "offline")

    # Written while offline: it waits in the outbox, shown as pending.
    page.fill("#composer-text", "written while offline")
    page.press("#composer-text", "Enter")
    pending = page.locator("#messages li.msg.pending")
    expect(pending).to_have_count(1)
    expect(pending.locator(".text")).to_have_text("written while offline")
    expect(pending.locator(".state")).to_have_text(["Sending…"])
    client_id = pending.get_attribute("id").removeprefix("pending-")
    assert client_id

    # Meanwhile Ben writes (stored while Ana's page cannot hear about it).
    missed = live.send(ben, room, "missed while you were away")

    live.server.start(same_port=True)
    connected(page, timeout=RECONNECT)
    expect(message(page, "missed while you were away", mine=False)).to_have_count(1, timeout=RECONNECT)
    expect(message(page, "written while offline", mine=True)).to_have_count(1, timeout=RECONNECT)
    expect(page.locator("#messages li.pending")).to_have_count(0)
    expect(page.locator("#messages li.msg .text")).to_have_text(
        ["before the outage", "missed while you were away", "written while offline"]
    )

    # The new socket joined with the last id the page had seen, and sent the message (only) then.
    joins = [f for f in sent if f["type"] == "connectToRoom"]
    assert joins[0] == {"type": "connectToRoom", "chatroomId": str(room.pk), "afterId": str(before.pk)}
    assert joins[-1] == joins[0] and len(joins) == 2
    sends = [f for f in sent if f["type"] == "sendMessage"]
    assert sends == [
        {"type": "sendMessage", "chatroomId": str(room.pk), "message": "written while offline", "clientId": client_id}
    ]
    stored = live.db(lambda: list(Message.objects.filter(room=room, sender=ana).values_list("client_id", "text")))
    assert stored == [(client_id, "written while offline")]
    # The page's socket caught up by id: nothing twice, nothing after a reload either.
    assert page.locator(f"#msg-{missed.pk}").count() == 1
    page.reload()
    connected(page)
    expect(page.locator("#messages li.msg .text")).to_have_text(
        ["before the outage", "missed while you were away", "written while offline"]
    )


def test_a_pending_message_turns_failed_and_is_retried_when_back(live):
    """Offline past the send time-out: "Failed – retry"; rejoining sends it anyway, once."""
    from chats.models import Message

    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    page = live.page(ana, f"/dashboard/chat/{room.pk}")
    live.server.kill()
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "offline")
    page.fill("#composer-text", "will fail first")
    page.press("#composer-text", "Enter")
    failed = page.locator("#messages li.msg.pending.failed")
    expect(failed).to_have_count(1, timeout=15_000)  # the 10 s send time-out
    expect(failed.get_by_role("button", name="Failed – retry")).to_be_visible()
    failed.get_by_role("button", name="Failed – retry").click()  # still offline: back to "Sending…"
    expect(page.locator("#messages li.msg.pending .state")).to_have_text("Sending…")

    live.server.start(same_port=True)
    connected(page, timeout=RECONNECT)
    expect(message(page, "will fail first", mine=True)).to_have_count(1, timeout=RECONNECT)
    expect(page.locator("#messages li.pending")).to_have_count(0)
    assert live.db(lambda: Message.objects.filter(room=room, sender=ana).count()) == 1


def test_unsent_message_and_draft_survive_closing_the_page(live):
    """ "Never lose a message" holds for what was typed: the outbox and the draft outlive the page."""
    from chats.models import Message

    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    context = live.context(ana)
    page = context.new_page()
    page.goto(f"/dashboard/chat/{room.pk}")
    connected(page)
    live.server.kill()
    expect(page.locator("#conn-state")).to_have_attribute("data-state", "offline")
    page.fill("#composer-text", "typed before the tab closed")
    page.press("#composer-text", "Enter")
    pending = page.locator("#messages li.msg.pending")
    expect(pending).to_have_count(1)
    client_id = pending.get_attribute("id").removeprefix("pending-")
    page.fill("#composer-text", "half a thought")
    page.close()

    live.server.start(same_port=True)
    sent: list[dict] = []
    again = context.new_page()
    again.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    again.goto(f"/dashboard/chat/{room.pk}")
    expect(again.locator("#composer-text")).to_have_value("half a thought")
    connected(again)
    expect(message(again, "typed before the tab closed", mine=True)).to_have_count(1, timeout=RECONNECT)
    expect(again.locator("#messages li.pending")).to_have_count(0)
    assert [f["clientId"] for f in sent if f["type"] == "sendMessage"] == [client_id]
    stored = live.db(lambda: list(Message.objects.filter(room=room, sender=ana).values_list("client_id", "text")))
    assert stored == [(client_id, "typed before the tab closed")]
    # Sent is sent: another visit neither shows it pending nor sends it again.
    again.reload()
    connected(again)
    expect(again.locator("#messages li.msg .text")).to_have_text(["typed before the tab closed"])
    expect(again.locator("#messages li.pending")).to_have_count(0)


def test_two_tabs_of_one_room_keep_each_others_unsent_messages(live):
    from chats.models import Message

    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    context = live.context(ana)
    tabs = [context.new_page(), context.new_page()]
    for tab in tabs:
        tab.goto(f"/dashboard/chat/{room.pk}")
        connected(tab)
    live.server.kill()
    for tab, text in zip(tabs, ["from the first tab", "from the second tab"], strict=True):
        expect(tab.locator("#conn-state")).to_have_attribute("data-state", "offline")
        tab.fill("#composer-text", text)
        tab.press("#composer-text", "Enter")
        expect(tab.locator("#messages li.msg.pending")).to_have_count(1)
    for tab in tabs:
        tab.close()

    live.server.start(same_port=True)
    again = context.new_page()
    again.goto(f"/dashboard/chat/{room.pk}")
    connected(again)
    for text in ("from the first tab", "from the second tab"):
        expect(message(again, text, mine=True)).to_have_count(1, timeout=RECONNECT)
    expect(again.locator("#messages li.pending")).to_have_count(0)
    stored = live.db(lambda: sorted(Message.objects.filter(room=room).values_list("text", flat=True)))
    assert stored == ["from the first tab", "from the second tab"]


def test_a_message_left_unsent_for_days_waits_for_a_retry(live):
    from chats.models import Message

    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    page = live.page(ana, f"/dashboard/chat/{room.pk}")
    two_days = 2 * 24 * 3600 * 1000
    page.evaluate(
        "([key, at]) => localStorage.setItem(key, JSON.stringify({old: {text: 'written two days ago', at}}))",
        [f"chatty.outbox.{ana.pk}.{room.pk}", int(time.time() * 1000) - two_days],
    )
    sent: list[dict] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    page.reload()
    connected(page)
    failed = page.locator("#pending-old.failed")
    expect(failed).to_have_count(1)
    assert [f for f in sent if f["type"] == "sendMessage"] == []
    failed.get_by_role("button", name="Failed – retry").click()
    expect(message(page, "written two days ago", mine=True)).to_have_count(1, timeout=LIVE)
    assert live.db(lambda: list(Message.objects.filter(room=room).values_list("client_id", flat=True))) == ["old"]


def test_logging_out_forgets_drafts_and_unsent_messages(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    page = live.page(ana, f"/dashboard/chat/{room.pk}")
    page.fill("#composer-text", "a private draft")
    assert page.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith('chatty.'))")
    page.locator(".me-button").click()
    page.locator("#settings-dialog").get_by_role("button", name="Log out", exact=True).click()
    page.locator("#logout-dialog").get_by_role("button", name="Log out").click()
    page.wait_for_url(lambda url: "/chat/" not in url)
    assert page.evaluate("() => Object.keys(localStorage).filter((k) => k.startsWith('chatty.'))") == []
