"""The plain forms of the pages (they work without JavaScript): shapes and types only; the
services keep the rules (who may, what is too long) and the views turn their errors into
form errors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from chats.models import MAX_CLIENT_ID_LENGTH
from chatty.errors import Invalid, parse_id


class MessageForm(forms.Form):
    """A message's text, kept as typed (the services trim only to measure)."""

    message = forms.CharField(strip=False, error_messages={"required": _("The message is empty.")})


class SendForm(MessageForm):
    clientId = forms.CharField(required=False, max_length=MAX_CLIENT_ID_LENGTH)
    replyToId = forms.IntegerField(required=False, min_value=1)


class AddFriendForm(forms.Form):
    friendUserTag = forms.CharField(error_messages={"required": _("Enter a user tag.")})


class IdListField(forms.Field):
    """Ids from a multi-valued field (checkboxes or a multiple select): a non-empty list."""

    widget = forms.SelectMultiple

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            return list(dict.fromkeys(parse_id(item, "friendIds") for item in value))
        except Invalid:
            raise forms.ValidationError(_("Pick at least one friend."), code="invalid") from None


class NewChatForm(forms.Form):
    friendIds = IdListField(error_messages={"required": _("Pick at least one friend.")})
