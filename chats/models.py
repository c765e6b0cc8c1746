from __future__ import annotations

from django.conf import settings
from django.db import models

MAX_MESSAGE_LENGTH = 4000
MAX_CLIENT_ID_LENGTH = 64
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
CATCH_UP_LIMIT = 500
MAX_TITLE_LENGTH = 100
REPLY_EXCERPT_LENGTH = 120
MAX_EMOJI_LENGTH = 16
MAX_REACTIONS_PER_MESSAGE = 20  # distinct emoji


class ChatRoom(models.Model):
    DIRECT = "direct"
    GROUP = "group"
    KINDS = [(DIRECT, "direct"), (GROUP, "group")]

    kind = models.CharField(max_length=6, choices=KINDS)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "<smaller id>:<larger id>" for a direct room: the database keeps one room per pair.
    direct_key = models.CharField(max_length=41, null=True, blank=True, unique=True, editable=False)
    # Denormalised so the chat list orders and summarises rooms without a query per room.
    last_message = models.ForeignKey("Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_activity_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # A group's name set by rename; "" shows the members' names.
    title = models.CharField(max_length=MAX_TITLE_LENGTH, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="group", direct_key__isnull=True)
                | models.Q(kind="direct", direct_key__isnull=False),
                name="chats_room_direct_key_iff_direct",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} room {self.pk}"


class Participant(models.Model):
    room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="participations")
    # The id of the last message this user has read (0: none). Moves only forward.
    last_read_id = models.BigIntegerField(default=0)
    # Messages after last_read_id that others sent, kept by the services that move either
    # side (send, read, delete), so that no read counts a room's unread history.
    unread_count = models.PositiveIntegerField(default=0)
    joined_at = models.DateTimeField(auto_now_add=True)
    # Still counts unread; the pages show no notification and a grey badge.
    muted = models.BooleanField(default=False, db_default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="chats_participant_unique")]
        indexes = [models.Index(fields=["user", "room"], name="chats_participant_user")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.room_id}"


class Message(models.Model):
    room = models.ForeignKey(ChatRoom, on_delete=models.CASCADE, related_name="messages")
    sender = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    client_id = models.CharField(max_length=MAX_CLIENT_ID_LENGTH, null=True, blank=True)  # noqa: DJ001 (NULL: no clientId; unique when set)
    edited_at = models.DateTimeField(null=True, blank=True)
    # The quoted message. No database constraint and no cascade: deleting the quoted message
    # leaves the id (and its sender, below) so the reply still says whom it answered.
    reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    reply_to_sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # [{"emoji", "userIds"}] in first-use order, rewritten from the Reaction rows by every
    # toggle under the message's lock: a page of messages shows its reactions without a
    # query of its own (reactions are rare writes, pages are frequent reads).
    reaction_summary = models.JSONField(default=list, db_default=models.Value([], models.JSONField()), blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "client_id"],
                condition=models.Q(client_id__isnull=False),
                name="chats_message_client_id_unique",
            )
        ]
        # History pages walk a room's messages by id; unread counts do too and also need the
        # sender (messages of others), which the index carries so counting never reads the
        # table: 100,000 unread in one room counts in ~20 ms instead of ~200 ms on PostgreSQL.
        indexes = [models.Index(fields=["room", "id", "sender"], name="chats_message_room_id_sender")]

    def __str__(self) -> str:
        return f"message {self.pk} in {self.room_id}"


class Reaction(models.Model):
    """One user's emoji on one message; the first id of an emoji orders the message's list."""

    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="reaction_rows")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    emoji = models.CharField(max_length=MAX_EMOJI_LENGTH)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["message", "user", "emoji"], name="chats_reaction_unique")]

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


from chats.attachments import Attachment  # noqa: E402,F401 (a model of this app, in its own module)
