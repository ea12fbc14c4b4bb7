"""Reads of the lead trader record: who is a lead, and a lead by id. (Their figures, stats,
the directory and profiles are the read side in apps.stats, above copies and fees.)"""

from __future__ import annotations

from apps.core.exceptions import NotFound
from apps.traders.models import LeadTrader


def lead_for_user(user) -> LeadTrader | None:
    """The user's LeadTrader row (active or ended), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return LeadTrader.objects.filter(user_id=user.pk).first()


def trader_get(*, trader_id) -> LeadTrader:
    try:
        return LeadTrader.objects.get(pk=int(trader_id))
    except (LeadTrader.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such lead trader.") from None
