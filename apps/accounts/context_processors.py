"""Template context for the site layout (templates/base.html)."""

from __future__ import annotations

from apps.accounts import selectors


def nav(request) -> dict:
    """``unread_notifications`` for the nav badge: one indexed COUNT for logged-in users, none
    for anonymous ones (and none for requests without a user, e.g. error pages)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": selectors.notification_unread_count(user=user)}
