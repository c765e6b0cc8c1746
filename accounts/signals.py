"""What must follow whenever a session or an account ends, whichever code path ends it.

Business logic stays in services; these receivers only publish "close those sockets"
events. They hang on the model and auth signals on purpose: allauth's logout, password
change and reset, Django's admin, `manage.py changepassword`, `clearsessions`, and a plain
`user.save()` or `user.delete()` in a shell all end sessions or accounts without passing
through Chatty's services, and every one of them must close the sockets it leaves behind.
(`QuerySet.update()` sends no signal: the socket's periodic `connection_still_valid` check
catches what that changes.)
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.models import User, UserSession
from chatty.realtime import publish_on_commit, session_group, user_group

# Every socket of the user closes (4401) on this one event: the lead's consumer handles it.
CLOSE_ALL = "user.deactivated"


def _touches(update_fields: Any, field: str) -> bool:
    return update_fields is None or field in update_fields


@receiver(post_save, sender=User, dispatch_uid="chatty.accounts.user_saved")
def user_saved(sender: type, instance: User, created: bool, update_fields: Any = None, **kwargs: Any) -> None:
    loaded = getattr(instance, "_loaded", None)
    if not created:
        password_changed = _touches(update_fields, "password") and (
            getattr(instance, "_password", None) is not None  # set_password() on this object
            or (loaded is not None and loaded["password"] is not None and loaded["password"] != instance.password)
        )
        deactivated = (
            _touches(update_fields, "is_active")
            and not instance.is_active
            and (loaded is None or loaded["is_active"] is not False)
        )
        if deactivated:
            publish_on_commit(user_group(instance.pk), {"type": CLOSE_ALL})
        elif password_changed:
            # Every session and token of the user was made with the old password: all of its
            # sockets close (the page that changed it goes on with a new session).
            publish_on_commit(user_group(instance.pk), {"type": CLOSE_ALL})
    instance._loaded = {"password": instance.password, "is_active": instance.is_active}


@receiver(post_delete, sender=User, dispatch_uid="chatty.accounts.user_deleted")
def user_deleted(sender: type, instance: User, **kwargs: Any) -> None:
    publish_on_commit(user_group(instance.pk), {"type": CLOSE_ALL})


@receiver(post_delete, sender=UserSession, dispatch_uid="chatty.accounts.session_deleted")
def session_deleted(sender: type, instance: UserSession, **kwargs: Any) -> None:
    """Logout (any path: its flush deletes the row), "log out everywhere", clearsessions,
    and the key change of a signed-in session (a password change). A session of nobody
    (cycled at sign-in) has no sockets to close."""
    if instance.user_id is not None:
        publish_on_commit(session_group(instance.session_key), {"type": "session.ended"})


@receiver(user_logged_out, dispatch_uid="chatty.accounts.logged_out")
def logged_out(sender: type, request: Any, user: Any, **kwargs: Any) -> None:
    # The row's deletion announces it too; this one also holds if sessions ever live
    # elsewhere than in the database (a cache engine deletes no row).
    session = getattr(request, "session", None)
    key = session.session_key if session is not None else None
    if key:
        publish_on_commit(session_group(key), {"type": "session.ended"})
