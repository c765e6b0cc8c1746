"""Uploads (SPEC §10): store a file, recognise images by their content, attach uploads to a
message, read them back for the message payload, and remove what was never sent.

Files go through Django's storage API (STORAGES["default"]: a local folder, MEDIA_ROOT, by
default; any storage backend by setting). An image is stored as a re-encoding of what was
uploaded, upright (EXIF orientation applied) and without its metadata (EXIF, GPS, XMP), so
what is served never tells where a photo was taken; its thumbnail is made once, here.
"""

from __future__ import annotations

import io
import mimetypes
import re
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from chats.attachments import Attachment
from chats.models import Participant
from chatty.errors import Invalid, NotFound, TooLarge, parse_id

MAX_ATTACHMENTS_PER_MESSAGE = 10
MAX_NAME_LENGTH = 200
# Images are checked by content: these formats, as Pillow names them, and no others.
IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
IMAGE_EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "WEBP": ".webp"}
# Larger images (a few kilobytes of PNG can claim gigapixels) are kept as plain files.
MAX_IMAGE_PIXELS = 50_000_000
THUMBNAIL_BOX = (320, 320)
UNSENT_MAX_AGE = timedelta(days=1)
GENERIC_TYPE = "application/octet-stream"


def max_upload_bytes() -> int:
    return settings.CHATTY_MAX_UPLOAD_MB * 1024 * 1024


# --- names ----------------------------------------------------------------------------------


def clean_name(raw: str | None) -> str:
    """A file name fit to show and to put in a header: no folders, no control characters."""
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().strip(".")
    if not name:
        return "file"
    if len(name) > MAX_NAME_LENGTH:
        _stem, dot, ext = name.rpartition(".")
        keep = f".{ext}" if dot and len(ext) <= 10 else ""
        name = name[: MAX_NAME_LENGTH - len(keep)] + keep
    return name


def _extension(name: str) -> str:
    match = re.search(r"\.([A-Za-z0-9]{1,10})$", name)
    return f".{match.group(1).lower()}" if match else ""


def _file_type(name: str) -> str:
    """The type of a file that is not one of our images, by its name; never an image type
    (a .png that Pillow cannot read is not shown as an image)."""
    guessed, _encoding = mimetypes.guess_type(name, strict=False)
    if not guessed or guessed.startswith("image/"):
        return GENERIC_TYPE
    return guessed


# --- images ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageUpload:
    format: str
    width: int
    height: int
    # What to store: a clean re-encoding, or None to keep the uploaded bytes as they are.
    content: bytes | None
    thumbnail: bytes


def _only_safe_info(image: Image.Image) -> None:
    # Metadata would be written back by some encoders (XMP, EXIF); the colour profile is kept.
    image.info = {k: v for k, v in image.info.items() if k in ("icc_profile", "transparency", "duration", "loop")}


def _thumbnail(frame: Image.Image) -> bytes:
    thumb = frame.convert("RGBA" if frame.mode in ("RGBA", "LA", "PA", "P") else "RGB")
    thumb.thumbnail(THUMBNAIL_BOX)
    out = io.BytesIO()
    thumb.save(out, "WEBP", quality=80)
    return out.getvalue()


def inspect_image(data: bytes) -> ImageUpload | None:
    """The upload as one of our images, or None when it is not one (whatever its name says)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in IMAGE_TYPES or image.width * image.height > MAX_IMAGE_PIXELS:
                return None
            image.load()
            fmt = image.format
            animated = getattr(image, "n_frames", 1) > 1
            if animated:
                return _animated(image, fmt, data)
            upright = ImageOps.exif_transpose(image)
            _only_safe_info(upright)
            out = io.BytesIO()
            if fmt == "JPEG":
                upright.save(out, "JPEG", quality=90, icc_profile=upright.info.get("icc_profile"))
            elif fmt == "WEBP":
                upright.save(out, "WEBP", quality=90, icc_profile=upright.info.get("icc_profile"))
            else:
                upright.save(out, fmt)
            return ImageUpload(fmt, upright.width, upright.height, out.getvalue(), _thumbnail(upright))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        return None


def _animated(image: Image.Image, fmt: str, data: bytes) -> ImageUpload:
    """Animations keep their frames. GIF carries no EXIF, so its bytes stay as uploaded; an
    animated WebP with EXIF or XMP is re-encoded without them."""
    width, height = image.size
    image.seek(0)
    thumbnail = _thumbnail(image)
    if fmt == "WEBP" and ("exif" in image.info or "xmp" in image.info):
        _only_safe_info(image)
        out = io.BytesIO()
        image.save(out, "WEBP", save_all=True, quality=90)
        return ImageUpload(fmt, width, height, out.getvalue(), thumbnail)
    return ImageUpload(fmt, width, height, None, thumbnail)


# --- the upload -----------------------------------------------------------------------------


def upload_create(*, uploader_id: int, upload: File | None) -> Attachment:
    """Store one uploaded file for its uploader (not yet sent). TooLarge over the limit."""
    if upload is None:
        raise Invalid(_("Send the file as the multipart field 'file'."))
    if upload.size is not None and upload.size > max_upload_bytes():
        raise TooLarge(_("A file may be at most %(mb)d MiB.") % {"mb": settings.CHATTY_MAX_UPLOAD_MB})
    name = clean_name(upload.name)
    upload.seek(0)
    data = upload.read()
    if len(data) > max_upload_bytes():
        raise TooLarge(_("A file may be at most %(mb)d MiB.") % {"mb": settings.CHATTY_MAX_UPLOAD_MB})
    image = inspect_image(data)
    folder = f"att/{uuid.uuid4().hex}"
    stored: list[str] = []
    try:
        if image is not None:
            content = image.content if image.content is not None else data
            file_name = default_storage.save(f"{folder}/file{IMAGE_EXTENSIONS[image.format]}", ContentFile(content))
            stored.append(file_name)
            thumb_name = default_storage.save(f"{folder}/thumbnail.webp", ContentFile(image.thumbnail))
            stored.append(thumb_name)
            return Attachment.objects.create(
                uploader_id=uploader_id,
                file=file_name,
                thumbnail=thumb_name,
                name=name,
                size=len(content),
                content_type=IMAGE_TYPES[image.format],
                width=image.width,
                height=image.height,
            )
        file_name = default_storage.save(f"{folder}/file{_extension(name)}", ContentFile(data))
        stored.append(file_name)
        return Attachment.objects.create(
            uploader_id=uploader_id, file=file_name, name=name, size=len(data), content_type=_file_type(name)
        )
    except BaseException:
        for stored_name in stored:
            default_storage.delete(stored_name)
        raise


def attachment_payload(attachment: Attachment) -> dict[str, Any]:
    """SPEC §10 `<attachment>`."""
    pk = attachment.pk
    return {
        "id": str(pk),
        "name": attachment.name,
        "size": attachment.size,
        "contentType": attachment.content_type,
        "url": reverse("attachment-file", kwargs={"attachment_id": pk, "name": _url_name(attachment.name)}),
        "thumbnailUrl": reverse("attachment-thumbnail", kwargs={"attachment_id": pk}) if attachment.thumbnail else None,
        "width": attachment.width,
        "height": attachment.height,
    }


def _url_name(name: str) -> str:
    # The name in the URL is for people (and for "save as"); the id alone finds the file.
    return name.replace("/", "_") or "file"


# --- sending --------------------------------------------------------------------------------


def parse_attachment_ids(raw: Any) -> list[int]:
    """sendMessage's `attachmentIds`: absent or null = none; else a list of at most 10 ids."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Invalid(_("attachmentIds must be a list of ids."))
    ids = list(dict.fromkeys(parse_id(item, "attachmentIds") for item in raw))
    if len(ids) > MAX_ATTACHMENTS_PER_MESSAGE:
        raise Invalid(_("A message holds at most %(n)d attachments.") % {"n": MAX_ATTACHMENTS_PER_MESSAGE})
    return ids


def attach_to_message(*, message_id: int, uploader_id: int, attachment_ids: list[int]) -> None:
    """Mark these uploads as sent with the message. Call inside the send's transaction, after
    the message's insert: Invalid (which rolls the message back) unless every id is an upload
    of this user not yet sent. Two sends racing for one upload: one of them gets Invalid."""
    if not attachment_ids:
        return
    claimed = Attachment.objects.filter(id__in=attachment_ids, uploader_id=uploader_id, sent_at__isnull=True).update(
        message_id=message_id, sent_at=timezone.now()
    )
    if claimed != len(attachment_ids):
        raise Invalid(_("attachmentIds must be your own uploads, not sent yet."))


def attachments_by_message(message_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """{message id: [<attachment>, ...]} in upload order, in one query; messages without
    attachments are left out (the payload shows `[]` for them)."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    ids = list(message_ids)
    if not ids:
        return {}
    for attachment in Attachment.objects.filter(message_id__in=ids).order_by("id"):
        found[attachment.message_id].append(attachment_payload(attachment))
    return dict(found)


# --- serving --------------------------------------------------------------------------------


def attachment_for_viewer(*, attachment_id: int, user_id: int | None) -> Attachment:
    """The attachment if this user may fetch it: a participant of the room it was sent in
    now, or its uploader before it is sent. NotFound otherwise (nothing tells that it exists)."""
    attachment = Attachment.objects.filter(pk=attachment_id).select_related("message").first()
    if attachment is None or user_id is None:
        raise NotFound()
    if attachment.sent_at is None:
        if attachment.uploader_id == user_id:
            return attachment
        raise NotFound()
    if attachment.message is None:  # its message was deleted
        raise NotFound()
    if Participant.objects.filter(room_id=attachment.message.room_id, user_id=user_id).exists():
        return attachment
    raise NotFound()


# --- cleanup --------------------------------------------------------------------------------


def cleanup_uploads(*, older_than: timedelta = UNSENT_MAX_AGE, batch: int = 500) -> int:
    """Remove uploads never sent that are older than `older_than`, and those whose message was
    deleted: rows and files. Returns how many were removed."""
    cutoff = timezone.now() - older_than
    removed = 0
    while True:
        candidates = list(
            Attachment.objects.filter(sent_at__isnull=True, created_at__lt=cutoff).values_list("id", flat=True)[:batch]
        )
        candidates += list(
            Attachment.objects.filter(sent_at__isnull=False, message__isnull=True).values_list("id", flat=True)[:batch]
        )
        if not candidates:
            return removed
        with transaction.atomic():
            # Locked and checked again: a send may have claimed one meanwhile.
            rows = list(
                Attachment.objects.select_for_update()
                .filter(id__in=candidates)
                .filter(Q(sent_at__isnull=True, created_at__lt=cutoff) | Q(sent_at__isnull=False, message__isnull=True))
                .values_list("id", "file", "thumbnail")
            )
            Attachment.objects.filter(id__in=[r[0] for r in rows]).delete()
        for _id, file_name, thumb_name in rows:
            for name in (file_name, thumb_name):
                if name:
                    default_storage.delete(name)
        removed += len(rows)
        if len(rows) < len(candidates):
            return removed  # what is left was claimed meanwhile; the next run sees the rest
