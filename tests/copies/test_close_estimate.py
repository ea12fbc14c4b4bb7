"""Closing a copied position by hand: the confirmation's estimate applies the same loss caps as
the close itself (SPEC §4), so it never promises a negative amount or one the close will not
book, and the page says in words what happens to the copy's free cash.

BTC-USDT-SWAP: contract value 0.01 BTC, taker fee 0.0005. The lead (10,000 equity) opens 1,000
margin at 5x at 50,000: a 1,000 copy opens 1 contract with margin 100 and an open fee of
500 x 0.0005 = 0.25, so the copy account holds 999.75, of which 899.75 is free cash.
"""

from __future__ import annotations

from decimal import Decimal as D
from html import unescape

import pytest
from django.urls import reverse

from apps.copies.selectors import copy_position_close_estimate, copy_stop_estimate
from apps.copies.services import copy_position_close
from apps.ledger.models import Account
from apps.positions.models import Position
from apps.traders.services import lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db


def _copied(mirror, *, side, mode):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    mirror(
        lead_position_open,
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side=side,
        margin_mode=mode,
        leverage=5,
        margin="1000",
    )
    position = Position.objects.get(account_id=copy.account_id, status=Position.Status.OPEN)
    assert (position.size, position.margin) == (D("1"), D("100"))
    return copy, position


def _balance(copy) -> D:
    return Account.objects.get(pk=copy.account_id).balance


def test_a_cross_loss_bigger_than_the_copy_holds_is_capped_at_the_account(btc, mirror, client):
    copy, position = _copied(mirror, side="short", mode="cross")
    set_price("BTC-USDT-SWAP", "150000")
    # short 0.01 BTC from 50,000 to 150,000: realized -1,000.00, fee 1,500 x 0.0005 = 0.75.
    # The account holds 999.75: it pays 999.75 (0.75 of it the fee), the insurance fund the rest.
    estimate = copy_position_close_estimate(copy=copy, position_id=position.pk)
    assert estimate.fee == D("0.75")
    assert estimate.realized_pnl == D("-999.00")  # -999.75 + the 0.75 fee
    assert estimate.to_cash == D("-899.75")  # margin 100 back, 999.75 out
    assert estimate.from_cash == D("899.75")
    assert estimate.cash_after == D("0")
    stop = copy_stop_estimate(copy=copy)
    assert (stop.closes_result, stop.returned) == (D("-999.75"), D("0"))

    client.force_login(copy.follower)
    html = unescape(
        client.get(reverse("copy_position_close", args=[copy.pk, position.pk])).content.decode()
    )
    assert "The loss is bigger than this position's margin:" in html
    assert "about 899.75 USDT more comes out of this copy's free cash" in html
    assert "which is then <strong>about 0.00 USDT</strong>" in html
    assert "-899.75" not in html

    closed = copy_position_close(copy=copy, position=position, user=copy.follower)
    assert (closed.realized_pnl, closed.fees) == (D("-999.00"), D("0.25") + D("0.75"))
    assert _balance(copy) == D("0")


def test_an_isolated_loss_takes_at_most_the_margin(btc, mirror, client):
    copy, position = _copied(mirror, side="long", mode="isolated")
    set_price("BTC-USDT-SWAP", "30000")
    # long 0.01 BTC from 50,000 to 30,000: realized -200.00, fee 300 x 0.0005 = 0.15; isolated,
    # so the account loses the margin 100 and no more (the fee 0.15 inside it).
    estimate = copy_position_close_estimate(copy=copy, position_id=position.pk)
    assert (estimate.realized_pnl, estimate.fee) == (D("-99.85"), D("0.15"))
    assert estimate.to_cash == D("0")  # the margin is used up, nothing else moves
    assert estimate.cash_after == D("899.75")

    client.force_login(copy.follower)
    html = unescape(
        client.get(reverse("copy_position_close", args=[copy.pk, position.pk])).content.decode()
    )
    assert "About 0.00 USDT goes back to this copy's free cash" in html
    assert "which is then <strong>about 899.75 USDT</strong>" in html

    closed = copy_position_close(copy=copy, position=position, user=copy.follower)
    assert (closed.realized_pnl, closed.fees) == (D("-99.85"), D("0.25") + D("0.15"))
    assert _balance(copy) == D("899.75")


def test_a_gain_goes_back_to_free_cash(btc, mirror, client):
    copy, position = _copied(mirror, side="long", mode="cross")
    set_price("BTC-USDT-SWAP", "55000")
    # long 0.01 BTC from 50,000 to 55,000: realized +50.00, fee 550 x 0.0005 = 0.275:
    # 100 + 50 - 0.275 = 149.725 back; free cash 899.75 + 149.725 = 1,049.475 (shown toward
    # zero to cents: 149.72 and 1,049.47).
    estimate = copy_position_close_estimate(copy=copy, position_id=position.pk)
    assert (estimate.realized_pnl, estimate.fee) == (D("50.00"), D("0.275"))
    assert (estimate.to_cash, estimate.cash_after) == (D("149.725"), D("1049.475"))
    client.force_login(copy.follower)
    html = unescape(
        client.get(reverse("copy_position_close", args=[copy.pk, position.pk])).content.decode()
    )
    assert "About 149.72 USDT goes back to this copy's free cash" in html
    assert "which is then <strong>about 1,049.47 USDT</strong>" in html
