"""Copy figures: one definition of equity, PnL, margin and available for the API, the pages
and the admin (SPEC §2, §11.2).

- equity            = copy account balance + uPnL of its open positions
- pnl               = equity - net investment (money moved in - money moved out)
- realized_pnl      = sum of closed PnL - trading fees + funding (net, SPEC §8's R)
- unrealized_pnl    = uPnL of open positions at the current price
- margin_in_use     = margins of open positions
- available         = free cash for new margin and fees (positions.selectors)
- profit share pending = owed + ratio x max(0, R - high-water mark), the latter rounded down
  (apps.fees.selectors.profit_share_due; owed: what an earlier settlement could not pay)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import QuerySet

from apps.copies.models import Copy, CopyEvent
from apps.core.exceptions import NotFound
from apps.core.money import ZERO
from apps.fees.services import profit_share_due
from apps.positions.selectors import account_figures, realized_totals


@dataclass(frozen=True)
class CopyFigures:
    equity: Decimal
    pnl: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    margin_in_use: Decimal
    available: Decimal
    cash: Decimal
    balance: Decimal
    profit_share_pending: Decimal
    open_positions: int


def copy_figures_many(copies: list[Copy]) -> dict[int, CopyFigures]:
    """Figures for many copies in three queries."""
    account_ids = [c.account_id for c in copies]
    figs = account_figures(account_ids)
    totals = realized_totals(account_ids)
    out = {}
    for c in copies:
        f = figs[c.account_id]
        t = totals.get(c.account_id) or {"realized": ZERO, "fees": ZERO, "funding": ZERO}
        realized = t["realized"] - t["fees"] + t["funding"]
        pending = profit_share_due(
            ratio=c.profit_share_ratio,
            realized=realized,
            high_water=c.high_water_mark,
            owed=c.profit_share_owed,
        )
        out[c.pk] = CopyFigures(
            equity=f.equity,
            # stopped: everything came back, so PnL = what came back - what went in
            pnl=f.equity - c.total_investment if c.is_active else realized - c.profit_share_paid,
            realized_pnl=realized,
            unrealized_pnl=f.upnl,
            margin_in_use=f.margin,
            available=f.available,
            cash=f.cash,
            balance=f.balance,
            profit_share_pending=pending if c.is_active else ZERO,
            open_positions=len(f.positions),
        )
    return out


def copy_figures(copy: Copy) -> CopyFigures:
    return copy_figures_many([copy])[copy.pk]


def copy_list_for_user(*, user, status: str | None = None) -> QuerySet[Copy]:
    qs = Copy.objects.filter(follower=user).select_related("lead", "account")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def copy_get_for_user(*, user, copy_id) -> Copy:
    """A user sees only their own copies: anything else is 'not found' (no enumeration)."""
    try:
        return Copy.objects.select_related("lead", "account").get(pk=int(copy_id), follower=user)
    except (Copy.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such copy.") from None


def copy_events(*, copy: Copy) -> QuerySet[CopyEvent]:
    return copy.events.select_related("lead_event").order_by("-id")
