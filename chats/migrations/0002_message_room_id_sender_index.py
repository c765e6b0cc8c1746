# The room's history index also carries the sender, so that unread counts (messages of
# others after a read position) are answered from the index alone. The new index is built
# before the old one goes, so history pages always have one.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('chats', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='message',
            index=models.Index(fields=['room', 'id', 'sender'], name='chats_message_room_id_sender'),
        ),
        migrations.RemoveIndex(
            model_name='message',
            name='chats_message_room_id',
        ),
    ]
