"""The wallet page: where the user's money is, and every movement of it in plain words.

A page sits on top of every app (README): this one reads the ledger (balances, the statement)
and the user's copies (to name and link each copy account) through their selectors, and does
no money math: every figure comes from a selector and is formatted by the money filters.
Deposits and withdrawals are made by operators, so the page has no money-moving form.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.copies.models import Copy
from apps.copies.selectors import copy_figures_many, copy_list_for_user
from apps.ledger import selectors

STATEMENT_PAGE_SIZE = 25


def _copies(user) -> tuple[list[dict], dict[int, str]]:
    """Active copies with their account balance and equity, and every copy's lead nickname by
    copy id (to name copy accounts in the statement). A constant number of queries."""
    copies = list(copy_list_for_user(user=user))
    active = [c for c in copies if c.status == Copy.Status.ACTIVE]
    figures = copy_figures_many(active)
    rows = [
        {
            "copy": c,
            "balance": c.account.balance,
            "equity": figures[c.pk].equity,
            "margin_in_use": figures[c.pk].margin_in_use,
        }
        for c in active
    ]
    return rows, {c.pk: c.lead.nickname for c in copies}


def _statement(request, names: dict[int, str]):
    paginator = Paginator(selectors.wallet_statement(user=request.user), STATEMENT_PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    lines = selectors.wallet_statement_lines(page.object_list)
    return page, [{"line": line, "copy_name": names.get(line.copy_id)} for line in lines]


@require_GET
@login_required
def wallet(request):
    copies, names = _copies(request.user)
    page, lines = _statement(request, names)
    context = {
        "wallet": selectors.wallet_get(user=request.user),
        "copies": copies,
        "page_obj": page,
        "lines": lines,
    }
    template = "ledger/wallet.html"
    if request.htmx and request.GET.get("page"):
        template += "#statement"
    return render(request, template, context)
