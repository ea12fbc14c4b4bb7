"""Public pages about lead traders: the home page board and the trader profile.

Pages only read selectors and format with the money template filters: no money math here.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import render
from django.urls import Resolver404, resolve

from apps.core.exceptions import NotFound
from apps.market.selectors import price_board
from apps.positions.models import Position
from apps.positions.selectors import position_list, position_upnl
from apps.traders.models import LeadTrader
from apps.traders.selectors import trader_get_with_figures, trader_list_with_figures

COPY_WIZARD_PATH = "/copies/new/"


def _copy_wizard_url(trader_id: int) -> str | None:
    """The copy wizard's address for this trader, or None while the portal does not exist."""
    try:
        resolve(COPY_WIZARD_PATH)
    except Resolver404:
        return None
    return f"{COPY_WIZARD_PATH}?trader={trader_id}"


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
            "copy_url": _copy_wizard_url(lead.pk) if lead.is_active else None,
        },
    )
