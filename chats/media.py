"""Serving attachments (SPEC §10): only to those who may see them, 404 to everyone else.

Django streams the file from the storage by default. With CHATTY_MEDIA_ACCEL_REDIRECT set (say
`/protected-media/`), Django only decides and nginx sends the file: the answer carries
`X-Accel-Redirect: <prefix><storage name>`, which nginx serves from an `internal` location
aliased to MEDIA_ROOT (deploy/nginx/chatty.conf).
"""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe

from chats.attachments import Attachment
from chats.uploads import attachment_for_viewer
from chatty.api import authenticate
from chatty.errors import ChattyError


def _viewer(request: HttpRequest, attachment_id: int) -> Attachment:
    try:
        user = authenticate(request)
        return attachment_for_viewer(attachment_id=attachment_id, user_id=user.pk)
    except ChattyError:
        raise Http404 from None


def _serve(storage_name: str, content_type: str, *, inline: bool, filename: str) -> HttpResponse:
    prefix = settings.CHATTY_MEDIA_ACCEL_REDIRECT
    if prefix:
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = prefix.rstrip("/") + "/" + quote(storage_name)
    else:
        try:
            handle = default_storage.open(storage_name, "rb")
        except FileNotFoundError:
            raise Http404 from None
        response = FileResponse(handle, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(not inline, filename)
    # Only this user's browser may keep it: who may see it can change (leaving a room).
    response["Cache-Control"] = "private, max-age=3600"
    # An uploaded file never runs as a page of this site, whatever it holds.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def attachment_file(request: HttpRequest, attachment_id: int, name: str) -> HttpResponse:
    attachment = _viewer(request, attachment_id)
    # Images are shown in the page; anything else is downloaded, never opened by the browser.
    return _serve(attachment.file, attachment.content_type, inline=attachment.is_image, filename=attachment.name)


@require_safe
def attachment_thumbnail(request: HttpRequest, attachment_id: int) -> HttpResponse:
    attachment = _viewer(request, attachment_id)
    if not attachment.thumbnail:
        raise Http404
    return _serve(attachment.thumbnail, "image/webp", inline=True, filename="thumbnail.webp")
