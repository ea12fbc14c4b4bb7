"""Reads for notifications, shared by the pages, the nav badge and the API.

Invariant: every read is scoped to one user; nobody ever sees another user's notifications.
"""

from __future__ import annotations

from django.db.models import QuerySet

from apps.accounts.models import Notification, User


def notification_list(*, user: User, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's notifications, newest first."""
    qs = Notification.objects.filter(user=user).order_by("-created_at", "-id")
    if unread_only:
        qs = qs.filter(read=False)
    return qs


def notification_unread_count(*, user: User) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read=False).count()
