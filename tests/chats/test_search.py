"""GET /api/chat/search (SPEC §10) on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm)."""

from __future__ import annotations

import pytest
from django.db import connection

from chats.models import Message, Participant
from chats.search import SQLITE_FTS_TABLE
from chats.services import message_send

pytestmark = pytest.mark.django_db

URL = "/api/chat/search"


def send(user, room, text: str) -> Message:
    message, _ = message_send(sender=user, room_id=room.pk, text=text)
    return message


def texts(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["message"]["message"] for r in response.json()["results"]]


@pytest.fixture
def trio(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol", all_friends=True)
    return alice, bob, carol, room(alice, bob), room(bob, carol)


def test_korean_word_is_found_inside_a_longer_word(trio, api):
    alice, bob, _, ab, _ = trio
    send(bob, ab, "내일회의는 3시에 해요")
    send(alice, ab, "회식은 금요일")
    send(alice, ab, "점심 뭐 먹지")
    assert texts(api(alice).get(URL, q="회의")) == ["내일회의는 3시에 해요"]
    # One character (no trigram index helps), newest first.
    assert texts(api(alice).get(URL, q="회")) == ["회식은 금요일", "내일회의는 3시에 해요"]


def test_english_words_match_case_insensitively_inside_words_and_all_must_occur(trio, api):
    alice, bob, _, ab, _ = trio
    send(bob, ab, "The MEETING moved to 3pm")
    send(alice, ab, "meetings are boring")
    send(alice, ab, "See you at 3pm")
    assert texts(api(alice).get(URL, q="Meet")) == ["meetings are boring", "The MEETING moved to 3pm"]
    assert texts(api(alice).get(URL, q="meet 3PM")) == ["The MEETING moved to 3pm"]
    assert texts(api(alice).get(URL, q="3pm   see")) == ["See you at 3pm"]
    assert texts(api(alice).get(URL, q="meet zebra")) == []


def test_non_ascii_letters_fold_case(trio, api):
    alice, bob, _, ab, _ = trio
    send(bob, ab, "Ärger im Büro")
    assert texts(api(alice).get(URL, q="ärger büro")) == ["Ärger im Büro"]


def test_like_wildcards_and_quotes_are_plain_characters(trio, api):
    alice, bob, _, ab, _ = trio
    send(bob, ab, "50% off today")
    send(bob, ab, "500 off today")
    send(bob, ab, 'he said "hi" a_b')
    assert texts(api(alice).get(URL, q="50%")) == ["50% off today"]
    assert texts(api(alice).get(URL, q="%")) == ["50% off today"]
    assert texts(api(alice).get(URL, q="a_b")) == ['he said "hi" a_b']
    assert texts(api(alice).get(URL, q='"hi"')) == ['he said "hi" a_b']
    assert texts(api(alice).get(URL, q='"')) == ['he said "hi" a_b']


def test_only_rooms_the_user_is_in_now(trio, api):
    alice, bob, carol, ab, bc = trio
    send(bob, ab, "project alpha in our room")
    send(carol, bc, "project alpha in the other room")
    assert texts(api(alice).get(URL, q="alpha")) == ["project alpha in our room"]
    assert texts(api(bob).get(URL, q="alpha")) == ["project alpha in the other room", "project alpha in our room"]
    # Leaving a room (its Participant row goes) takes its messages out of the user's search.
    Participant.objects.filter(room=ab, user=alice).delete()
    assert texts(api(alice).get(URL, q="alpha")) == []
    assert texts(api(alice).get(URL, q="al")) == []


def test_result_shape_title_and_chat_filter(trio, api):
    alice, bob, carol, ab, bc = trio
    m = send(bob, ab, "launch at noon")
    send(carol, bc, "launch at dawn")
    body = api(bob).get(URL, q="launch", chatId=str(ab.pk)).json()
    assert body["hasMore"] is False
    [result] = body["results"]
    assert result["chatroomId"] == str(ab.pk)
    assert result["chatroomTitle"] == "Alice"
    assert result["snippet"] == "<mark>launch</mark> at noon"
    assert result["message"]["id"] == str(m.pk)
    assert result["message"]["senderId"] == str(bob.pk)
    assert result["message"]["chatroomId"] == str(ab.pk)
    assert api(alice).get(URL, q="launch", chatId=str(bc.pk)).json()["error"] == "not_participant"
    assert api(alice).get(URL, q="launch", chatId="999999").status_code == 404


def test_pagination_newest_first_with_before(trio, api):
    alice, bob, _, ab, _ = trio
    sent = [send(bob if i % 2 else alice, ab, f"report number {i}") for i in range(5)]
    send(bob, ab, "unrelated")
    client = api(alice)
    page = client.get(URL, q="report", limit="2").json()
    assert [r["message"]["id"] for r in page["results"]] == [str(sent[4].pk), str(sent[3].pk)]
    assert page["hasMore"] is True
    page = client.get(URL, q="report", limit="2", before=page["results"][-1]["message"]["id"]).json()
    assert [r["message"]["id"] for r in page["results"]] == [str(sent[2].pk), str(sent[1].pk)]
    assert page["hasMore"] is True
    page = client.get(URL, q="report", limit="2", before=page["results"][-1]["message"]["id"]).json()
    assert [r["message"]["id"] for r in page["results"]] == [str(sent[0].pk)]
    assert page["hasMore"] is False
    assert len(client.get(URL, q="report").json()["results"]) == 5  # default limit 20


def test_snippet_is_escaped_and_marks_every_match_around_the_first(trio, api):
    alice, bob, _, ab, _ = trio
    send(bob, ab, "<script>alert('회의')</script> & 회의록")
    [result] = api(alice).get(URL, q="회의").json()["results"]
    assert result["snippet"] == (
        "&lt;script&gt;alert(&#x27;<mark>회의</mark>&#x27;)&lt;/script&gt; &amp; <mark>회의</mark>록"
    )
    # The API carries the text as typed.
    assert result["message"]["message"] == "<script>alert('회의')</script> & 회의록"

    long_text = "word " * 100 + "needle in the middle " + "tail " * 100
    send(bob, ab, long_text)
    [result] = api(alice).get(URL, q="NEEDLE").json()["results"]
    snippet = result["snippet"]
    assert snippet.startswith("…") and snippet.endswith("…")
    assert "<mark>needle</mark> in the middle" in snippet
    assert len(snippet) < 250


def test_edited_and_deleted_messages_are_searched_as_they_are_now(trio, api):
    alice, bob, _, ab, _ = trio
    m = send(bob, ab, "first draft of the plan")
    Message.objects.filter(pk=m.pk).update(text="final version of the plan")
    assert texts(api(alice).get(URL, q="draft")) == []
    assert texts(api(alice).get(URL, q="final plan")) == ["final version of the plan"]
    Message.objects.filter(pk=m.pk).delete()
    assert texts(api(alice).get(URL, q="plan")) == []
    send(bob, ab, "a new plan")
    assert texts(api(alice).get(URL, q="plan")) == ["a new plan"]


@pytest.mark.parametrize(
    ("params", "detail_part"),
    [
        ({}, "q is required"),
        ({"q": ""}, "1 to 200"),
        ({"q": "x" * 201}, "1 to 200"),
        ({"q": "   "}, "at least one word"),
        ({"q": "a", "limit": "0"}, "limit"),
        ({"q": "a", "limit": "51"}, "limit"),
        ({"q": "a", "limit": "ten"}, "limit"),
        ({"q": "a", "before": "x"}, "before"),
        ({"q": "a", "chatId": "-1"}, "chatId"),
    ],
)
def test_bad_queries_are_answered_400_invalid(trio, api, params, detail_part):
    alice = trio[0]
    response = api(alice).get(URL, **params)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert detail_part in response.json()["detail"]


def test_q_of_200_characters_is_accepted(trio, api):
    alice, bob, _, ab, _ = trio
    send(bob, ab, "y" * 200)
    assert texts(api(alice).get(URL, q="y" * 200)) == ["y" * 200]


def test_signed_out_is_401(api):
    response = api().get(URL, q="a")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_the_migration_built_the_index():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'chats_message_text_trgm'")
            [(definition,)] = cursor.fetchall()
            assert "gin_trgm_ops" in definition and "upper(text)" in definition
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'chats_message'")
            triggers = {row[0] for row in cursor.fetchall()}
            assert triggers == {f"{SQLITE_FTS_TABLE}_{event}" for event in ("insert", "delete", "update")}


@pytest.mark.parametrize("window", [1, 3, 10_000])
def test_pages_are_the_same_whichever_way_the_database_finds_them(trio, api, monkeypatch, window):
    """PostgreSQL looks at the newest messages first, then at the older ones through the index:
    with a window of 1 or 3 messages every page crosses that boundary."""
    import chats.search

    monkeypatch.setattr(chats.search, "RECENT_WINDOW", window)
    alice, bob, carol, ab, bc = trio
    expected = []
    for i in range(12):
        if i % 3 == 0:
            send(carol, bc, f"회의 elsewhere {i}")  # not alice's room
        text = f"{'내일회의' if i % 2 else '점심'} {i}"
        m = send(bob if i % 2 else alice, ab, text)
        if i % 2:
            expected.append(str(m.pk))
    expected.reverse()
    client = api(alice)
    for q in ("회의", "회의 1", "의"):
        want = [i for i in expected if q != "회의 1" or Message.objects.get(pk=i).text.find("1") >= 0]
        got, before = [], None
        while True:
            params = {"q": q, "limit": "2"} | ({"before": before} if before else {})
            page = client.get(URL, **params).json()
            got += [r["message"]["id"] for r in page["results"]]
            if not page["hasMore"]:
                break
            before = got[-1]
        assert got == want, q
    assert texts(client.get(URL, q="회의", chatId=str(ab.pk), limit="1")) == [Message.objects.get(pk=expected[0]).text]


def test_errors_speak_korean_when_asked(trio, api):
    client = api(trio[0])
    response = client.client.get(URL, headers={"Accept-Language": "ko"})
    assert response.json() == {"error": "invalid", "detail": "q(검색어)가 필요해요."}


def test_a_bulk_load_builds_the_index_once_and_search_finds_what_it_loaded(trio, api):
    from django.db import transaction
    from django.utils import timezone

    from chats.search import BULK_LOAD_ROWS, search_index_paused

    alice, bob, _, ab, _ = trio
    with transaction.atomic(), search_index_paused(rows=BULK_LOAD_ROWS):
        Message.objects.bulk_create(
            [Message(room=ab, sender=bob, text=f"bulk 회의록 {i}", created_at=timezone.now()) for i in range(3)]
        )
    assert len(texts(api(alice).get(URL, q="회의록 bulk"))) == 3
    test_the_migration_built_the_index()  # the index (trigger) is back as the migration made it
    send(bob, ab, "after the load")
    assert texts(api(alice).get(URL, q="after load")) == ["after the load"]
