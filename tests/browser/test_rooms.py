"""Rooms people can shape (SPEC §9), in Chromium: renaming a group, adding friends to it,
leaving it, muting a room, changing one's display name, and a badge cleared in one tab
clearing in the other — each seen live on the other people's (and tabs') pages."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.a11y import axe_violations, describe
from tests.browser.conftest import DESKTOP, LIVE, PHONE, connected, message, write

pytestmark = pytest.mark.django_db(transaction=True)


def group_of_three(live):
    ana, ben, cho = live.user("Ana"), live.user("Ben"), live.user("Cho")
    live.befriend(ana, ben)
    live.befriend(ana, cho)
    return ana, ben, cho, live.room(ana, ben, cho)


def open_group_settings(page: Page):
    page.get_by_role("button", name=re.compile("^(Group settings|그룹 설정)$")).click()
    dialog = page.locator("#group-settings-dialog")
    expect(dialog).to_be_visible()
    return dialog


def participants(page: Page):
    return page.locator(".room-head .participants li")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_renaming_a_group_changes_every_members_list_and_open_header_live(live, viewport):
    ana, ben, cho, group = group_of_three(live)
    ana_page = live.page(ana, f"/dashboard/chat/{group.pk}", viewport=viewport)
    ben_page = live.page(ben, f"/dashboard/chat/{group.pk}", viewport=viewport)
    cho_page = live.page(cho, "/dashboard", viewport=viewport)
    expect(ben_page.locator("#room-title")).to_have_text("Ana, Cho")

    dialog = open_group_settings(ana_page)
    expect(dialog.get_by_label("Group name")).to_have_attribute("placeholder", "Ben, Cho")
    dialog.get_by_label("Group name").fill("Hiking <club>")
    dialog.get_by_role("button", name="Save name").click()
    expect(dialog.locator("#rename-result")).to_have_text("The group is now called Hiking <club>.")
    expect(ana_page.locator("#room-title")).to_have_text("Hiking <club>", timeout=LIVE)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    # Everyone's list and open header follow, without a reload; the tab's title too.
    expect(ben_page.locator("#room-title")).to_have_text("Hiking <club>", timeout=LIVE)
    expect(ben_page).to_have_title(re.compile(r"^Hiking <club> · Chatty$"))
    expect(participants(ben_page)).to_have_count(3)
    expect(ben_page.locator(f".room-head .participants .dot-user-{ana.pk}")).to_have_count(1)
    expect(cho_page.locator(f"#chat-{group.pk} .chat-title")).to_have_text("Hiking <club>", timeout=LIVE)
    # The row pushed into Ben's open room stays marked as the current one.
    expect(ben_page.locator(f"#chat-{group.pk}.current a[aria-current=page]")).to_have_count(1)

    # An empty name goes back to the members' names, from each one's side.
    dialog = open_group_settings(ben_page)
    expect(dialog.get_by_label("Group name")).to_have_value("Hiking <club>")
    dialog.get_by_label("Group name").fill("")
    dialog.get_by_label("Group name").press("Enter")
    expect(dialog.locator("#rename-result")).to_have_text("The group is named after its members again.")
    expect(ana_page.locator("#room-title")).to_have_text("Ben, Cho", timeout=LIVE)
    expect(cho_page.locator(f"#chat-{group.pk} .chat-title")).to_have_text("Ana, Ben", timeout=LIVE)


def test_adding_friends_gives_the_new_member_the_room_live(live):
    ana, ben, _cho, group = group_of_three(live)
    dan = live.user("Dan")
    live.befriend(ana, dan)
    live.send(ana, group, "before Dan")
    dan_page = live.page(dan, "/dashboard")
    ben_page = live.page(ben, f"/dashboard/chat/{group.pk}")
    ana_page = live.page(ana, f"/dashboard/chat/{group.pk}")

    dialog = open_group_settings(ana_page)
    picks = dialog.locator("#add-members-list")
    expect(picks.locator("label")).to_have_count(1)  # friends not in it: only Dan
    expect(picks.locator("label")).to_contain_text("Dan")
    dialog.get_by_role("button", name="Add to the group").click()
    expect(dialog.locator("#add-result")).to_have_text("Pick at least one friend.")
    picks.get_by_label(re.compile("Dan")).check()
    dialog.get_by_role("button", name="Add to the group").click()
    expect(dialog.locator("#add-result")).to_have_text("Added to the group.")
    expect(picks).to_have_text("All your friends are in this group.")

    # Dan's list gets the room, live, with its history; the others see him join.
    row = dan_page.locator(f"#chat-{group.pk}")
    expect(row).to_contain_text("before Dan", timeout=LIVE)
    expect(row.locator(".chat-title")).to_have_text("Ana, Ben, Cho")
    expect(participants(ben_page)).to_have_count(4, timeout=LIVE)
    expect(participants(ben_page).filter(has_text="Dan")).to_have_count(1)
    expect(ben_page.locator("#room-title")).to_have_text("Ana, Cho, Dan")
    row.get_by_role("link").click()
    dan_page.wait_for_url(f"**/dashboard/chat/{group.pk}")
    connected(dan_page)
    write(dan_page, "hi all")
    expect(message(ben_page, "hi all", mine=False)).to_have_count(1, timeout=LIVE)


def test_leaving_a_group_with_confirm_and_everyone_sees_it(live):
    ana, _ben, cho, group = group_of_three(live)
    ana_page = live.page(ana, f"/dashboard/chat/{group.pk}")
    cho_context = live.context(cho)
    cho_page = cho_context.new_page()
    cho_page.goto(f"/dashboard/chat/{group.pk}")
    connected(cho_page)
    cho_other_tab = cho_context.new_page()
    cho_other_tab.goto(f"/dashboard/chat/{group.pk}")
    connected(cho_other_tab)
    expect(participants(ana_page)).to_have_count(3)

    dialog = open_group_settings(cho_page)
    dialog.get_by_role("button", name="Leave group…").click()
    confirm = cho_page.locator("#leave-group-dialog")
    expect(confirm).to_be_visible()
    expect(dialog).to_be_hidden()
    confirm.get_by_role("button", name="Cancel").click()  # changed their mind: still in it
    expect(confirm).to_be_hidden()
    expect(cho_page.locator("#composer-text")).to_be_enabled()

    open_group_settings(cho_page).get_by_role("button", name="Leave group…").click()
    confirm.get_by_role("button", name="Leave chat").click()
    cho_page.wait_for_url("**/dashboard")
    expect(cho_page.locator(".flash")).to_contain_text("You left the chat.")
    expect(cho_page.locator(f"#chat-{group.pk}")).to_have_count(0)

    # Cho's other tab: the room leaves the list, the page says so, the composer is gone.
    expect(cho_other_tab.locator(f"#room-left-{group.pk}")).to_have_text("You left this chat.", timeout=LIVE)
    expect(cho_other_tab.locator("#composer")).to_have_count(0)
    expect(cho_other_tab.locator(f"#chat-{group.pk}")).to_have_count(0)
    expect(cho_other_tab.get_by_role("button", name="Group settings")).to_have_count(0)

    # The others see the participants drop to two, and the title follows.
    expect(participants(ana_page)).to_have_count(2, timeout=LIVE)
    expect(participants(ana_page).filter(has_text="Cho")).to_have_count(0)
    expect(ana_page.locator("#room-title")).to_have_text("Ben")
    expect(ana_page.locator(f"#chat-{group.pk} .chat-meta")).to_contain_text("2 people")


def test_a_muted_room_keeps_counting_in_grey_in_every_tab_and_after_a_reload(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    context = live.context(ana)
    in_room = context.new_page()
    in_room.goto(f"/dashboard/chat/{room.pk}")
    connected(in_room)
    other_tab = context.new_page()
    other_tab.goto("/dashboard")
    connected(other_tab)

    mute = in_room.get_by_role("button", name="Mute")
    expect(mute).to_have_attribute("aria-pressed", "false")
    mute.click()
    expect(mute).to_have_attribute("aria-pressed", "true")
    row = other_tab.locator(f"#chat-{room.pk}")
    expect(row).to_have_attribute("data-muted", "true", timeout=LIVE)  # the other tab hears of it
    expect(row.locator(".muted-mark")).to_have_attribute("title", "Muted")

    in_room.goto("/dashboard")  # an open room is read as messages arrive: Ana looks away
    connected(in_room)
    # (Ben writes from his own page: the test process's events reach no server.)
    write(live.page(ben, f"/dashboard/chat/{room.pk}"), "are you there?")
    badge = row.locator(".badge")
    expect(badge).to_have_attribute("data-unread", "1", timeout=LIVE)
    expect(badge).to_be_visible()
    expect(badge).to_have_css("background-color", "rgb(91, 96, 117)")  # grey, not the accent

    other_tab.reload()
    connected(other_tab)
    expect(other_tab.locator(f"#chat-{room.pk}")).to_have_attribute("data-muted", "true")
    expect(other_tab.locator(f"#chat-{room.pk} .badge")).to_have_css("background-color", "rgb(91, 96, 117)")
    in_room.goto(f"/dashboard/chat/{room.pk}")
    connected(in_room)
    mute = in_room.get_by_role("button", name="Mute")
    expect(mute).to_have_attribute("aria-pressed", "true")

    # Unmuted from the other tab (by the API, as another device would): the open room follows.
    answer = other_tab.evaluate(
        """(id) => fetch('/api/chat/mute', {method: 'POST', credentials: 'same-origin',
             headers: {'Content-Type': 'application/json',
                       'X-CSRFToken': document.querySelector('input[name=csrfmiddlewaretoken]').value},
             body: JSON.stringify({chatId: id, muted: false})}).then(r => r.status)""",
        str(room.pk),
    )
    assert answer == 200
    expect(mute).to_have_attribute("aria-pressed", "false", timeout=LIVE)
    expect(other_tab.locator(f"#chat-{room.pk}")).not_to_have_attribute("data-muted", "true", timeout=LIVE)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_new_display_name_shows_on_ones_card_and_live_on_a_friends_page(live, viewport):
    ana, ben, cho = live.user("Ana"), live.user("Ben"), live.user("Cho")
    live.befriend(ana, ben)
    live.befriend(ana, cho)
    direct = live.room(ana, ben)
    group = live.room(ana, ben, cho)
    ben_page = live.page(ben, f"/dashboard/chat/{direct.pk}", viewport=viewport)
    ana_context = live.context(ana, viewport=viewport)
    ana_in_group = ana_context.new_page()  # Ana's other tab, in the group
    ana_in_group.goto(f"/dashboard/chat/{group.pk}")
    connected(ana_in_group)
    ana_page = ana_context.new_page()
    ana_page.goto("/dashboard")
    connected(ana_page)

    if viewport == PHONE:
        ana_page.get_by_role("button", name="Menu").click()
    ana_page.locator(".me-card .me-button").click()
    dialog = ana_page.locator("#settings-dialog")
    expect(dialog).to_be_visible()
    name = dialog.get_by_label("Display name")
    expect(name).to_have_value("Ana")
    name.fill("   ")
    dialog.locator(".name-form").get_by_role("button", name="Save name").click()
    expect(dialog.locator(".name-form .form-result")).to_have_text("A name holds 1 to 50 characters.")
    expect(name).to_have_attribute("aria-invalid", "true")
    name.fill("Ana <Park>")
    dialog.locator(".name-form").get_by_role("button", name="Save name").click()
    expect(dialog.locator(".name-form .form-result")).to_have_text("Your name is saved.")
    expect(ana_page.locator(".me-card .me-text > strong")).to_have_text("Ana <Park>")

    # Ben's page follows without a reload: the friends rail, both chat rows, the open header.
    expect(ben_page.locator(f"#friend-{ana.pk} .friend-name")).to_have_text("Ana <Park>", timeout=LIVE)
    expect(ben_page.locator(f"#chat-{direct.pk} .chat-title")).to_have_text("Ana <Park>")
    expect(ben_page.locator(f"#chat-{group.pk} .chat-title")).to_have_text("Ana <Park>, Cho")
    expect(ben_page.locator("#room-title")).to_have_text("Ana <Park>")
    expect(participants(ben_page).filter(has_text="Ana <Park>")).to_have_count(1)
    expect(ben_page.locator(f"#new-chat-friends #pick-friend-{ana.pk}")).to_contain_text("Ana <Park>")
    # The rail row pushed in still shows Ana's presence.
    expect(ben_page.locator(f"#friend-{ana.pk} .dot.online")).to_have_count(1)
    # Ana's other tab: her card and her own name among the group's participants.
    expect(ana_in_group.locator(".me-card .me-text > strong")).to_have_text("Ana <Park>", timeout=LIVE)
    expect(participants(ana_in_group).filter(has_text="Ana <Park>")).to_have_count(1)
    expect(ana_in_group.locator("#room-title")).to_have_text("Ben, Cho")


def test_a_badge_cleared_in_one_tab_clears_in_the_other(live):
    ana, ben = live.user("Ana"), live.user("Ben")
    live.befriend(ana, ben)
    room = live.room(ana, ben)
    context = live.context(ana)
    tab_a, tab_b = context.new_page(), context.new_page()
    for tab in (tab_a, tab_b):
        tab.goto("/dashboard")
        connected(tab)

    ben_page = live.page(ben, f"/dashboard/chat/{room.pk}")
    write(ben_page, "one")
    expect(message(ben_page, "one", mine=True)).to_have_count(1)
    write(ben_page, "two")
    for tab in (tab_a, tab_b):
        expect(tab.locator(f"#chat-{room.pk} .badge")).to_have_attribute("data-unread", "2", timeout=LIVE)
        expect(tab.locator(f"#chat-{room.pk} .badge")).to_be_visible()
        expect(tab).to_have_title(re.compile(r"^\(2\) "))

    tab_a.locator(f"#chat-{room.pk} a").click()
    tab_a.wait_for_url(f"**/dashboard/chat/{room.pk}")
    connected(tab_a)
    badge_b = tab_b.locator(f"#chat-{room.pk} .badge")
    expect(badge_b).to_have_attribute("data-unread", "0", timeout=LIVE)
    expect(badge_b).to_be_hidden()
    expect(tab_b).not_to_have_title(re.compile(r"^\(\d+\) "))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_group_settings_dialog_speaks_korean_and_passes_axe(live, viewport):
    ana, _ben, _cho, group = group_of_three(live)
    options = {"locale": "ko-KR", "bypass_csp": True, "reduced_motion": "reduce", "viewport": viewport}
    page = live.page(ana, f"/dashboard/chat/{group.pk}", **options)
    expect(page.get_by_role("button", name="알림 끄기")).to_have_attribute("aria-pressed", "false")
    dialog = open_group_settings(page)
    expect(dialog.get_by_role("heading", name="그룹 설정")).to_be_visible()
    expect(dialog.get_by_label("그룹 이름")).to_be_visible()
    expect(dialog.locator("legend")).to_have_text("그룹에 친구 추가")
    expect(dialog.locator("#add-members-list")).to_have_text("친구가 모두 이 그룹에 있어요.")
    dialog.get_by_role("button", name="그룹에 추가").click()
    expect(dialog.locator("#add-result")).to_have_text("친구를 한 명 이상 고르세요.")
    found = describe(axe_violations(page))
    dialog.get_by_label("그룹 이름").fill("등산 모임")
    dialog.get_by_role("button", name="이름 저장").click()
    expect(dialog.locator("#rename-result")).to_have_text("그룹 이름을 바꿨어요: 등산 모임")
    expect(page.locator("#room-title")).to_have_text("등산 모임", timeout=LIVE)
    dialog.get_by_role("button", name="그룹 나가기…").click()
    confirm = page.locator("#leave-group-dialog")
    expect(confirm.get_by_role("heading", name="이 그룹에서 나갈까요?")).to_be_visible()
    found += describe(axe_violations(page))
    assert not found, found
    confirm.get_by_role("button", name="취소").click()
    expect(confirm).to_be_hidden()


def test_renaming_and_leaving_a_group_without_javascript(live):
    ana, _ben, _cho, group = group_of_three(live)
    page = live.page(ana, f"/dashboard/chat/{group.pk}", java_script_enabled=False)
    expect(page.get_by_role("button", name="Group settings")).to_be_hidden()
    page.get_by_role("link", name="Group settings").click()
    page.wait_for_url(f"**/dashboard/chat/{group.pk}/settings")
    page.get_by_label("Group name").fill("Plain <form>")
    page.locator(".rename-form").get_by_role("button", name="Save name").click()
    page.wait_for_url(re.compile(rf"/dashboard/chat/{group.pk}#room-title$"))
    expect(page.locator("#room-title")).to_have_text("Plain <form>")
    expect(page.locator(".flash")).to_contain_text("The group is now called Plain <form>.")
    expect(page.locator(f"#chat-{group.pk} .chat-title")).to_have_text("Plain <form>")

    page.get_by_role("link", name="Group settings").click()
    page.locator(".leave-form").get_by_role("button", name="Leave chat").click()
    page.wait_for_url("**/dashboard")
    expect(page.locator(".flash")).to_contain_text("You left the chat.")
    expect(page.locator(f"#chat-{group.pk}")).to_have_count(0)


def test_a_tab_whose_group_was_left_elsewhere_does_not_rejoin_it_after_a_reconnect(live):
    _ana, _ben, cho, group = group_of_three(live)
    context = live.context(cho)
    here = context.new_page()
    here.goto(f"/dashboard/chat/{group.pk}")
    connected(here)
    sent: list[dict] = []
    sockets: list = []

    def opened(ws) -> None:
        sockets.append(ws)
        ws.on("framesent", lambda payload: sent.append(json.loads(payload)))

    here.on("websocket", opened)
    there = context.new_page()
    there.goto(f"/dashboard/chat/{group.pk}")
    connected(there)
    open_group_settings(there).get_by_role("button", name="Leave group…").click()
    there.locator("#leave-group-dialog").get_by_role("button", name="Leave chat").click()
    there.wait_for_url("**/dashboard")
    expect(here.locator(f"#room-left-{group.pk}")).to_have_text("You left this chat.", timeout=LIVE)

    live.server.kill()
    expect(here.locator("#conn-state")).to_have_attribute("data-state", "offline")
    live.server.start(same_port=True)
    expect(here.locator("#conn-state")).to_have_attribute("data-state", "online", timeout=30_000)
    # The server answers in order: once it answered a frame sent now, it answered (with an
    # error toast) any join the page sent when the socket opened.
    with sockets[-1].expect_event("framereceived", lambda p: '"retrieveOnlineFriends"' in p, timeout=LIVE):
        here.evaluate("() => window.Chatty.send({type: 'userOnline'})")
    assert [f for f in sent if f["type"] == "connectToRoom"] == []
    expect(here.locator("#toasts .toast")).to_have_count(0)
