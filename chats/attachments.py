"""The Attachment model (SPEC §10): a file a user uploaded, then sent with a message.

Imported by chats/models.py, so it is a model of the chats app; the uploads' services and
reads are in chats/uploads.py.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Attachment(models.Model):
    uploader = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # Set when the upload is sent (sent_at too). SET_NULL when the message is deleted: the row
    # then has sent_at but no message, nobody can fetch it, and cleanup_uploads removes it
    # with its files.
    message = models.ForeignKey(
        "chats.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    # Names in the default storage (STORAGES["default"]), never shown to clients.
    file = models.CharField(max_length=255)
    thumbnail = models.CharField(max_length=255, blank=True, default="")
    name = models.CharField(max_length=200)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # cleanup_uploads: unsent uploads by age.
            models.Index(fields=["created_at"], condition=models.Q(sent_at__isnull=True), name="chats_att_unsent"),
        ]

    def __str__(self) -> str:
        return f"attachment {self.pk} ({self.name})"

    @property
    def is_image(self) -> bool:
        return self.width is not None
