"""The public pages about lead traders: the home page board, the directory and the profile.

Pages only read selectors and format with the money template filters: no money math here.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from apps.core.exceptions import NotFound
from apps.market.selectors import price_board
from apps.positions.models import Position
from apps.positions.selectors import (
    position_list,
    position_upnl,
)
from apps.stats.boards import (
    trader_get_with_figures,
    trader_list_with_figures,
)
from apps.traders.models import LeadTrader


def _copy_cta(request, figures) -> dict:
    """What the profile offers instead of a bare Copy button: copy (the wizard), "this is you"
    (a lead on their own profile), full, or ended, each with words a person understands."""
    lead = figures.lead
    if not lead.is_active:
        return {"state": "ended"}
    if request.user.is_authenticated and request.user.pk == lead.user_id:
        return {"state": "self"}
    if figures.copiers >= lead.max_copiers:
        return {"state": "full"}
    return {"state": "copy", "url": f"{reverse('copy_new')}?trader={lead.pk}"}


def _board_rows(status: str | None) -> list[dict]:
    # Flat rows: the board's contract (tests/accounts/test_pages.py renders it directly).
    return [
        {
            "id": row.lead.pk,
            "nickname": row.lead.nickname,
            "status": row.lead.status,
            "profit_share_ratio": row.lead.profit_share_ratio,
            "copiers": row.copiers,
            "max_copiers": row.lead.max_copiers,
            "aum": row.aum,
        }
        for row in trader_list_with_figures(status=status)
    ]


def home(request):
    traders = _board_rows(LeadTrader.Status.ACTIVE)
    return render(request, "core/home.html", {"prices": price_board(), "traders": traders})


def trader_list(request):
    """Every lead trader, active first; ended ones stay listed with their history."""
    rows = sorted(_board_rows(None), key=lambda r: (r["status"] != "active", r["id"]))
    return render(request, "traders/list.html", {"traders": rows})


def trader_profile(request, trader_id: int):
    try:
        figures = trader_get_with_figures(trader_id=trader_id)
    except NotFound:
        raise Http404("No such lead trader.") from None
    lead = figures.lead
    positions = list(position_list(account_id=lead.futures_account_id, status=Position.Status.OPEN))
    rows = [{"position": p, "upnl": position_upnl(p)} for p in positions]
    return render(
        request,
        "traders/profile.html",
        {
            "figures": figures,
            "lead": lead,
            "positions": rows,
            "cta": _copy_cta(request, figures),
        },
    )
