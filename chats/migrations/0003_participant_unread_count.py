# Each participant keeps their unread count (messages after their read position that others
# sent) instead of every send and every chat list counting it. Existing rows are filled with
# that count in one UPDATE.

from django.db import migrations, models
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce


def fill_unread_counts(apps, schema_editor):
    Participant = apps.get_model("chats", "Participant")
    Message = apps.get_model("chats", "Message")
    counted = (
        Message.objects.filter(room_id=OuterRef("room_id"), id__gt=OuterRef("last_read_id"))
        .exclude(sender_id=OuterRef("user_id"))
        .order_by()
        .values("room_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    Participant.objects.using(schema_editor.connection.alias).update(
        unread_count=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))
    )


class Migration(migrations.Migration):

    dependencies = [
        ("chats", "0002_message_room_id_sender_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="participant",
            name="unread_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(fill_unread_counts, migrations.RunPython.noop, elidable=True),
    ]
