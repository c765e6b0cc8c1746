"""The plain forms of the pages (they work without JavaScript): shapes and types only; the
services keep the rules (who may, what is too long) and the views turn their errors into
form errors."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.services import MAX_NAME_LENGTH
from chats.models import MAX_CLIENT_ID_LENGTH, MAX_TITLE_LENGTH
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


class RenameForm(forms.Form):
    """A group's name; empty goes back to the members' names (the service trims and measures)."""

    title = forms.CharField(
        required=False,
        strip=False,
        max_length=2 * MAX_TITLE_LENGTH,  # room for spaces around; the limit people meet is below
        error_messages={"max_length": _("A group name holds at most 100 characters.")},
    )

    def clean_title(self) -> str:
        title = self.cleaned_data["title"]
        if len(title.strip()) > MAX_TITLE_LENGTH:
            raise forms.ValidationError(_("A group name holds at most 100 characters."), code="too_long")
        return title


class AddMembersForm(forms.Form):
    friendIds = IdListField(error_messages={"required": _("Pick at least one friend.")})


class NameForm(forms.Form):
    name = forms.CharField(
        max_length=MAX_NAME_LENGTH,
        error_messages={
            "required": _("A name holds 1 to 50 characters."),
            "max_length": _("A name holds 1 to 50 characters."),
        },
    )
