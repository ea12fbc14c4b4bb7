"""Template context for the site layout: is the signed-in user a lead trader (the nav then
links the lead console)? One indexed query for signed-in users, none for visitors."""

from __future__ import annotations

from apps.traders.selectors import lead_for_user


def nav_lead(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_lead": lead_for_user(user)}
