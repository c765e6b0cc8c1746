"""POST /api/chat/upload, serving attachments, attaching them to messages, cleanup_uploads (SPEC §10)."""

from __future__ import annotations

import io
import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client
from django.utils import timezone
from PIL import Image

from chats.attachments import Attachment
from chats.models import Message, Participant
from chats.services import message_send
from chats.uploads import attach_to_message, attachments_by_message, parse_attachment_ids
from chatty.errors import Invalid

pytestmark = pytest.mark.django_db

URL = "/api/chat/upload"
MIB = 1024 * 1024
GPS_IFD = 0x8825
ORIENTATION = 0x0112


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.CHATTY_MEDIA_ACCEL_REDIRECT = ""
    return tmp_path / "media"


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


class Uploader:
    """A signed-in browser session (CSRF enforced) that uploads multipart and fetches URLs."""

    def __init__(self, user=None) -> None:
        self.client = Client(enforce_csrf_checks=True)
        if user is not None:
            self.client.force_login(user)
        from django.middleware.csrf import _get_new_csrf_string

        self.csrf = _get_new_csrf_string()
        self.client.cookies["csrftoken"] = self.csrf

    def upload(self, name: str, data: bytes, content_type: str = "application/octet-stream", **headers):
        file = SimpleUploadedFile(name, data, content_type=content_type)
        return self.client.post(URL, {"file": file}, headers={"X-CSRFToken": self.csrf, **headers})

    def fetch(self, url: str):
        return self.client.get(url)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def image_bytes(fmt: str, size=(640, 480), **save) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    image.paste((10, 10, 240), (0, 0, size[0] // 2, size[1]))  # left half blue: a rotation shows
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


@pytest.fixture
def duo(people, room):
    alice, bob, carol = people("Alice", "Bob", "Carol", all_friends=True)
    return alice, bob, carol, room(alice, bob)


@pytest.mark.parametrize(
    ("fmt", "name", "content_type"),
    [
        ("PNG", "a.png", "image/png"),
        ("JPEG", "a.jpg", "image/jpeg"),
        ("GIF", "a.gif", "image/gif"),
        ("WEBP", "a.webp", "image/webp"),
    ],
)
def test_images_are_recognised_with_size_and_thumbnail(duo, fmt, name, content_type):
    alice = duo[0]
    me = Uploader(alice)
    # The name says nothing: the content decides.
    response = me.upload(name.replace(".", "-") + ".bin", image_bytes(fmt))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["contentType"] == content_type
    assert (body["width"], body["height"]) == (640, 480)
    assert body["name"] == name.replace(".", "-") + ".bin"
    assert set(body) == {"id", "name", "size", "contentType", "url", "thumbnailUrl", "width", "height"}
    served = me.fetch(body["url"])
    assert served.status_code == 200
    assert served["Content-Type"] == content_type
    assert served["Content-Disposition"].startswith("inline")
    data = body_of(served)
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == (fmt, (640, 480))
    assert len(data) == body["size"]
    thumb = me.fetch(body["thumbnailUrl"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
    with Image.open(io.BytesIO(body_of(thumb))) as image:
        assert image.format == "WEBP"
        assert image.size == (320, 240)


def test_jpeg_is_served_upright_without_exif_or_gps(duo):
    alice = duo[0]
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # the camera was turned: rotate 90° clockwise to show it upright
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (37.0, 33.0, 58.0), 3: "E", 4: (126.0, 58.0, 41.0)})
    original = image_bytes("JPEG", size=(600, 400), exif=exif.tobytes())
    with Image.open(io.BytesIO(original)) as check:  # the test's own file carries what it should
        assert check.getexif()[ORIENTATION] == 6 and check.getexif().get_ifd(GPS_IFD)
    me = Uploader(alice)
    body = me.upload("holiday.jpg", original, "image/jpeg").json()
    assert (body["width"], body["height"]) == (400, 600)
    for url in (body["url"], body["thumbnailUrl"]):
        data = body_of(me.fetch(url))
        assert b"Exif" not in data and b"PhoneMaker" not in data
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif().get_ifd(GPS_IFD)
            assert ORIENTATION not in image.getexif()
            assert image.height > image.width
            # The left (blue) half of the original is the top after the rotation.
            top = image.convert("RGB").getpixel((image.width // 2, 2))
            assert top[2] > top[0], top


def test_animated_gif_keeps_its_frames(duo):
    frames = [Image.new("RGB", (50, 40), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    me = Uploader(duo[0])
    body = me.upload("anim.gif", out.getvalue()).json()
    assert (body["contentType"], body["width"], body["height"]) == ("image/gif", 50, 40)
    with Image.open(io.BytesIO(body_of(me.fetch(body["url"])))) as image:
        assert image.n_frames == 3


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("cat.png", b"<html><script>alert(1)</script></html>", "application/octet-stream"),
        ("broken.png", image_bytes("PNG")[:200], "application/octet-stream"),
        ("report.pdf", b"%PDF-1.4 not really", "application/pdf"),
        ("notes", b"just text", "application/octet-stream"),
    ],
)
def test_anything_else_is_a_file_to_download(duo, name, data, content_type):
    me = Uploader(duo[0])
    response = me.upload(name, data, "image/png")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["contentType"] == content_type
    assert (body["thumbnailUrl"], body["width"], body["height"]) == (None, None, None)
    assert body["size"] == len(data)
    served = me.fetch(body["url"])
    assert served.status_code == 200
    assert served["Content-Type"] == content_type
    assert served["Content-Disposition"].startswith("attachment")
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in served["Content-Security-Policy"]
    assert body_of(served) == data


def test_names_lose_folders_and_control_characters(duo):
    me = Uploader(duo[0])
    body = me.upload("../../etc/pass\x07wd", b"x").json()
    assert body["name"] == "passwd"
    body = me.upload("회의록 final.txt", b"x").json()
    assert body["name"] == "회의록 final.txt"
    served = me.fetch(body["url"])
    assert served.status_code == 200
    assert "filename*=utf-8''%ED%9A%8C%EC%9D%98%EB%A1%9D%20final.txt" in served["Content-Disposition"]
    body = me.upload("what?#100%;.txt", b"odd").json()
    assert body["name"] == "what?#100%;.txt"
    assert body_of(me.fetch(body["url"])) == b"odd"


def test_ten_mib_passes_and_one_byte_more_is_413_too_large(duo, media_root):
    me = Uploader(duo[0])
    data = os.urandom(10 * MIB)
    response = me.upload("big.bin", data)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["size"] == 10 * MIB
    assert len(stored_files(media_root)) == 1

    response = me.upload("bigger.bin", data + b"x")
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert "10 MiB" in response.json()["detail"]
    response = me.upload("much-bigger.bin", data * 2)  # refused before the body is read
    assert response.status_code == 413
    assert response.json()["error"] == "too_large"
    assert len(stored_files(media_root)) == 1
    assert Attachment.objects.count() == 1


def test_a_json_body_over_1_mib_elsewhere_is_still_refused(duo, api):
    response = api(duo[0]).post("/api/chat/create-chat", raw=b'{"friendIds": [' + b" " * (MIB + 10) + b"]}")
    assert response.status_code == 413


def test_upload_needs_a_file_a_user_and_csrf(duo, api, token_for):
    alice = duo[0]
    me = Uploader(alice)
    response = me.client.post(URL, {"other": "x"}, headers={"X-CSRFToken": me.csrf})
    assert (response.status_code, response.json()["error"]) == (400, "invalid")
    response = me.client.post(URL, {"file": SimpleUploadedFile("a.txt", b"a")})  # no CSRF token
    assert (response.status_code, response.json()["error"]) == (403, "forbidden")
    response = Uploader().upload("a.txt", b"a")
    assert (response.status_code, response.json()["error"]) == (401, "unauthenticated")
    bearer = Client()  # a bearer token needs no CSRF token
    response = bearer.post(
        URL, {"file": SimpleUploadedFile("a.txt", b"a")}, headers={"Authorization": f"Bearer {token_for(alice)}"}
    )
    assert response.status_code == 201
    assert Client().get(response.json()["url"]).status_code == 404  # a bearer-less fetch
    fetched = Client().get(response.json()["url"], headers={"Authorization": f"Bearer {token_for(alice)}"})
    assert fetched.status_code == 200
    assert Client().get(URL).status_code == 405


def send_with(user, room, attachment_ids, text="look") -> Message:
    with transaction.atomic():
        message, _ = message_send(sender=user, room_id=room.pk, text=text)
        attach_to_message(message_id=message.pk, uploader_id=user.pk, attachment_ids=attachment_ids)
    return message


def test_who_may_fetch_an_attachment(duo):
    alice, bob, carol, ab = duo
    me = Uploader(alice)
    body = me.upload("photo.png", image_bytes("PNG")).json()
    urls = (body["url"], body["thumbnailUrl"])
    # Before it is sent: its uploader only.
    assert [me.fetch(u).status_code for u in urls] == [200, 200]
    assert [Uploader(bob).fetch(u).status_code for u in urls] == [404, 404]
    assert [Uploader().fetch(u).status_code for u in urls] == [404, 404]
    send_with(alice, ab, [int(body["id"])])
    # Sent: the participants of the room, and no one else.
    assert [Uploader(bob).fetch(u).status_code for u in urls] == [200, 200]
    assert [Uploader(carol).fetch(u).status_code for u in urls] == [404, 404]
    # A member added later sees what was sent before.
    Participant.objects.create(room=ab, user=carol)
    assert [Uploader(carol).fetch(u).status_code for u in urls] == [200, 200]
    # Leaving (the row goes) ends it, for the uploader too.
    Participant.objects.filter(room=ab, user__in=[carol, alice]).delete()
    assert [Uploader(carol).fetch(u).status_code for u in urls] == [404, 404]
    assert [me.fetch(u).status_code for u in urls] == [404, 404]
    # An id that does not exist looks the same.
    assert Uploader(bob).fetch(body["url"].replace(f"/{body['id']}/", "/999999/")).status_code == 404


def test_x_accel_redirect_hands_the_file_to_nginx(duo, settings):
    alice, bob, _, _ = duo
    settings.CHATTY_MEDIA_ACCEL_REDIRECT = "/protected-media/"
    me = Uploader(alice)
    body = me.upload("doc.txt", b"hello").json()
    served = me.fetch(body["url"])
    attachment = Attachment.objects.get(pk=body["id"])
    assert served.status_code == 200
    assert served["X-Accel-Redirect"] == f"/protected-media/{attachment.file}"
    assert served.content == b""
    assert served["Content-Disposition"].startswith("attachment")
    assert Uploader(bob).fetch(body["url"]).status_code == 404


def test_attach_to_message_takes_own_unsent_uploads_only(duo):
    alice, bob, _, ab = duo
    mine = [int(Uploader(alice).upload(f"{i}.txt", b"x").json()["id"]) for i in range(3)]
    theirs = int(Uploader(bob).upload("b.txt", b"x").json()["id"])
    message = send_with(alice, ab, mine[:2])
    assert set(Attachment.objects.filter(message=message).values_list("id", flat=True)) == set(mine[:2])

    before = Message.objects.count()
    for ids in ([theirs], [mine[0]], [mine[2], 999_999]):  # another's, sent already, unknown
        with pytest.raises(Invalid):
            send_with(alice, ab, ids)
    assert Message.objects.count() == before  # the message went back with the refusal
    assert Attachment.objects.get(pk=mine[2]).message_id is None
    assert Attachment.objects.get(pk=theirs).message_id is None


def test_parse_attachment_ids():
    assert parse_attachment_ids(None) == []
    assert parse_attachment_ids(["3", 4, "3"]) == [3, 4]
    assert parse_attachment_ids(list(range(1, 11))) == list(range(1, 11))
    for bad in (list(range(1, 12)), "3", [1.5], [True], [{"id": 1}], {"0": 1}):
        with pytest.raises(Invalid):
            parse_attachment_ids(bad)


def test_attachments_by_message_reads_every_message_in_one_query(duo, django_assert_num_queries):
    alice, bob, _, ab = duo
    first = [int(Uploader(alice).upload(f"a{i}.txt", b"x").json()["id"]) for i in range(2)]
    second = int(Uploader(bob).upload("b.png", image_bytes("PNG", size=(20, 10))).json()["id"])
    m1 = send_with(alice, ab, first)
    m2 = send_with(bob, ab, [second])
    m3, _ = message_send(sender=bob, room_id=ab.pk, text="no files")
    with django_assert_num_queries(1):
        found = attachments_by_message([m1.pk, m2.pk, m3.pk])
    assert [a["id"] for a in found[m1.pk]] == [str(i) for i in first]
    assert [(a["name"], a["width"], a["height"]) for a in found[m2.pk]] == [("b.png", 20, 10)]
    assert m3.pk not in found


def test_cleanup_uploads_removes_what_was_never_sent_after_a_day(duo, media_root):
    alice, _, _, ab = duo
    me = Uploader(alice)
    old = int(me.upload("old.png", image_bytes("PNG")).json()["id"])
    recent = int(me.upload("recent.txt", b"x").json()["id"])
    sent_old = int(me.upload("sent.txt", b"x").json()["id"])
    deleted_with_message = int(me.upload("gone.txt", b"x").json()["id"])
    send_with(alice, ab, [sent_old])
    doomed = send_with(alice, ab, [deleted_with_message])
    Attachment.objects.filter(pk__in=[old, sent_old]).update(created_at=timezone.now() - timedelta(hours=25))
    Message.objects.filter(pk=doomed.pk).delete()
    old_files = [Attachment.objects.get(pk=old).file, Attachment.objects.get(pk=old).thumbnail]
    assert len(stored_files(media_root)) == 5

    out = io.StringIO()
    call_command("cleanup_uploads", stdout=out)
    assert "removed 2 upload(s)" in out.getvalue()
    assert set(Attachment.objects.values_list("id", flat=True)) == {recent, sent_old}
    assert len(stored_files(media_root)) == 2
    assert not any((media_root / name).exists() for name in old_files)
    call_command("cleanup_uploads", stdout=io.StringIO())
    assert Attachment.objects.count() == 2


def test_message_send_with_attachments_and_no_text(duo, published, api):
    alice, bob, _, ab = duo
    files = (("a.png", image_bytes("PNG")), ("b.txt", b"x"))
    ids = [int(Uploader(alice).upload(name, data).json()["id"]) for name, data in files]
    with published() as events:
        message, created = message_send(sender=alice, room_id=ab.pk, text="", attachment_ids=[str(i) for i in ids])
    assert created and message.text == ""
    [sent] = [e for g, e in events if e["type"] == "chat.message"]
    assert [a["id"] for a in sent["message"]["attachments"]] == [str(i) for i in ids]
    assert sent["message"]["attachments"][0]["thumbnailUrl"] is not None
    # The history shows them too, and the room's members may fetch them now.
    info = api(bob).get("/api/chat/chat-info", chatId=str(ab.pk)).json()
    assert [a["name"] for a in info["messages"][-1]["attachments"]] == ["a.png", "b.txt"]
    assert Uploader(bob).fetch(sent["message"]["attachments"][1]["url"]).status_code == 200
    assert info["messages"][-1]["attachments"] == sent["message"]["attachments"]


def test_message_send_refuses_what_is_not_an_own_unsent_upload_and_stores_nothing(duo):
    alice, bob, _, ab = duo
    theirs = int(Uploader(bob).upload("b.txt", b"x").json()["id"])
    mine = int(Uploader(alice).upload("a.txt", b"x").json()["id"])
    for ids, text in (([theirs], "hi"), ([mine, 999_999], ""), (list(range(1, 12)), "hi")):
        with pytest.raises(Invalid):
            message_send(sender=alice, room_id=ab.pk, text=text, attachment_ids=ids)
    with pytest.raises(Invalid):
        message_send(sender=alice, room_id=ab.pk, text="   ")  # no attachments: text is needed
    assert Message.objects.count() == 0
    assert Attachment.objects.get(pk=mine).sent_at is None


@pytest.mark.django_db(transaction=True)
async def test_send_message_frame_with_attachment_ids(duo):
    from asgiref.sync import sync_to_async

    from tests.security.wsutil import communicator, open_ready, safe_disconnect, session_cookie, wait_for

    alice, bob, _, ab = duo
    uploaded = await sync_to_async(lambda: Uploader(alice).upload("p.gif", image_bytes("GIF")).json())()
    cookies = [await sync_to_async(session_cookie)(u) for u in (alice, bob)]
    comms = [await open_ready(communicator(cookie=c)) for c in cookies]
    try:
        for comm in comms:
            await comm.send_json_to({"type": "connectToRoom", "chatroomId": str(ab.pk)})
            await wait_for(comm, "joinedChatroom")
        await comms[0].send_json_to(
            {"type": "sendMessage", "chatroomId": str(ab.pk), "message": "", "attachmentIds": [uploaded["id"]]}
        )
        await wait_for(comms[0], "ack")
        got = await wait_for(comms[1], "message", chatroomId=str(ab.pk))
        assert got["message"]["message"] == ""
        assert [a["id"] for a in got["message"]["attachments"]] == [uploaded["id"]]
        await comms[0].send_json_to(
            {"type": "sendMessage", "chatroomId": str(ab.pk), "message": "", "attachmentIds": [uploaded["id"]]}
        )
        error = await wait_for(comms[0], "error")
        assert (error["error"], error["ref"]) == ("invalid", "sendMessage")
        await comms[0].send_json_to(
            {"type": "sendMessage", "chatroomId": str(ab.pk), "message": "x", "attachmentIds": "nope"}
        )
        error = await wait_for(comms[0], "error")
        assert (error["error"], error["ref"]) == ("invalid", "sendMessage")
    finally:
        for comm in comms:
            await safe_disconnect(comm)
    assert await sync_to_async(Message.objects.count)() == 1
