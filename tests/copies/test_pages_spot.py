"""Spot copies on the follower pages (SPEC §6): the copy wizard's market choice and Buy Existing
Assets with its preview, My Copies, Copy Trade Details (holdings, why this size, sells), the sale
of a holding by hand, Settings and Stop copying. Figures are hand calculations:

- SPEC §6's example: a lead with 10,000 USDT in the lead spot account buys 1,000 USDT of BTC at
  50,000: 0.02 BTC, fee 1 (on top), so the lead keeps 8,999 cash and has equity 9,999. A copy of
  1,000 that existed before buys 1,000 / 10,000 x 1,000 = 100 USDT: 0.002 BTC, fee 0.1, and keeps
  899.9 cash; its equity is 999.9.
- Buy Existing Assets after that buy: the holding's weight is 1,000 / 9,999 = 0.10001000100..;
  a copy of 1,000 spends 1,000 x 1,000 / 9,999 = 100.01000100.. USDT -> 100.01000100 / 50,000 =
  0.0020002000.. BTC -> 0.00200020 BTC (lot 1e-8), cost 0.0020002 x 50,000 = 100.01 USDT, fee
  0.1% = 0.10001 USDT, cash left 1,000 - 100.01 - 0.10001 = 899.88999 USDT.
- At 55,000 the copy's 0.002 BTC is worth 110.00 (uPnL +10.00, equity 1,009.90); a lead sell of
  half (0.01 of 0.02 BTC) makes it sell 0.002 x 0.01 / 0.02 = 0.001 BTC: it fetches 55.00, pays
  fee 0.055, releases cost 50.00, so its realized PnL is +5.00.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.copies.models import Copy
from apps.ledger.models import Account
from apps.ledger.services import account_main, deposit_credit
from apps.positions.models import Position
from apps.traders.services import lead_position_open, lead_spot_buy, lead_spot_sell, lead_transfer
from tests.factories.trading import copy_make, follower_make, lead_make, set_price

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


@pytest.fixture
def prices(db):
    set_price("BTC-USDT", "50000")
    set_price("ETH-USDT", "3000")
    set_price("SOL-USDT", "150")
    set_price("BTC-USDT-SWAP", "50000")


def spot_lead(equity="10000", *, futures="0", nickname=None):
    """A lead trader whose lead spot account holds ``equity`` USDT (and the futures account
    ``futures``)."""
    lead = lead_make(equity=futures, nickname=nickname)
    deposit_credit(user=lead.user, amount=Decimal(equity), key=f"spot-lead:{lead.pk}")
    lead_transfer(lead=lead, market="spot", direction="in", amount=equity)
    lead.refresh_from_db()
    return lead


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} in the page"
    return match.group(1)


def _text(html: str) -> str:
    """The page's words without tags, spaces collapsed."""
    html = re.sub(r"<script.*?</script>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'")


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


@pytest.fixture
def follower(client):
    user = follower_make("5000")
    client.force_login(user)
    return user


@pytest.fixture
def holding_lead(prices, mirror):
    """SPEC §6: a spot lead of 10,000 who bought 1,000 USDT of BTC at 50,000."""
    lead = spot_lead("10000", nickname="Spotty")
    mirror(lead_spot_buy, lead=lead, instrument="BTC-USDT", amount="1000")
    return lead


@pytest.fixture
def spot_copy(client, prices, mirror):
    """SPEC §6's example: a copy of 1,000 that then mirrors the lead's 1,000 USDT buy."""
    lead = spot_lead("10000", nickname="Spotty")
    follower = follower_make("5000")
    copy = copy_make(lead, follower=follower, investment="1000", market="spot")
    mirror(lead_spot_buy, lead=lead, instrument="BTC-USDT", amount="1000")
    client.force_login(follower)
    return copy


# --- the wizard: which market -------------------------------------------------------------
def _url(lead, market: str | None = None) -> str:
    return f"/copies/new/?trader={lead.pk}" + (f"&market={market}" if market else "")


def test_a_lead_of_both_markets_is_offered_futures_or_spot(client, follower, prices):
    lead = spot_lead("10000", futures="10000", nickname="Both")
    html = client.get(_url(lead)).content.decode()
    assert 'aria-current="step">Market' in html
    assert "Both leads both markets." in _text(html)
    assert 'name="market" value="futures" id="market-futures" checked' in html
    assert 'name="market" value="spot" id="market-spot"' in html
    assert "Buy Existing Assets can buy what they hold now." in html
    assert 'name="total_investment"' not in html  # the amount comes after the choice
    # the choice is a plain GET form: the next page is the wizard for that market
    spot = client.get(_url(lead, "spot")).content.decode()
    assert 'aria-current="step">Total Investment' in spot
    assert '<li class="done">Market' in spot
    assert "Buy Existing Assets" in spot and "Copy Ongoing Positions" not in spot


def test_a_lead_of_spot_only_goes_straight_to_spot(client, follower, holding_lead):
    html = client.get(_url(holding_lead)).content.decode()
    assert 'aria-current="step">Total Investment' in html and not re.search("<li[^>]*>Market", html)
    assert '<label for="id_copy_ongoing_positions">Buy Existing Assets</label>' in html
    assert "mirrors Spotty's spot portfolio" in html
    assert "market=spot" in html  # the preview reads the spot account


def test_a_lead_who_has_not_traded_is_copied_in_futures(client, follower, prices):
    lead = lead_make(equity="0", nickname="Fresh")
    html = client.get(_url(lead)).content.decode()
    assert '<label for="id_copy_ongoing_positions">Copy Ongoing Positions</label>' in html
    assert not re.search("<li[^>]*>Market", html)


def test_a_duplicate_is_refused_per_market(client, follower, prices, mirror):
    # given a follower who copies the futures of a lead who leads both
    lead = spot_lead("10000", futures="10000", nickname="Both")
    futures = copy_make(lead, follower=follower, investment="1000")
    # the choice shows futures as taken (with its Settings) and spot as open
    html = client.get(_url(lead)).content.decode()
    assert 'value="futures" id="market-futures" disabled' in html
    assert "You are already copying Both. Change its Settings instead." in html
    assert f'href="/copies/{futures.pk}/settings/"' in html
    assert 'value="spot" id="market-spot" checked' in html
    # futures asked directly: refused, with its Settings and the other market
    refused = client.get(_url(lead, "futures")).content.decode()
    assert "You cannot copy Both in futures now" in refused
    assert "That is your futures copy of Both; their other market can still be copied." in refused
    assert f'href="/copies/{futures.pk}/settings/"' in refused
    # spot is open: the whole wizard starts a second copy of the same lead
    html = _review(client, lead, "1000", ongoing=False)
    response = _confirm(client, lead, html)
    assert response.status_code == 302
    assert set(Copy.objects.filter(follower=follower).values_list("market", flat=True)) == {
        "futures",
        "spot",
    }


# --- the wizard: Buy Existing Assets ------------------------------------------------------
def test_preview_shows_what_buy_existing_assets_buys(client, follower, holding_lead):
    url = f"/copies/new/preview/?trader={holding_lead.pk}&market=spot&total_investment=1,000"
    html = client.get(url + "&copy_ongoing_positions=on", headers=HX).content.decode()
    assert "<html" not in html and 'id="ongoing-preview"' not in html
    assert "What is bought now with 1,000.00 USDT" in html
    # the lead's holding: 0.02 BTC worth 1,000.00, 10.001..% of 9,999 equity
    assert (
        '<span class="nowrap">0.02 BTC</span><span class="sub muted nowrap">1,000.00 USDT' in html
    )
    assert 'data-label="Weight">10.00%<' in html
    # the copy's buy: 0.0020002 BTC for 100.01 USDT, fee 0.10001 (shown 0.1000)
    assert 'data-label="You buy"><span class="nowrap">0.0020002 BTC</span>' in html
    assert 'data-label="Amount (USDT)">100.01<' in html
    assert 'data-label="Fee (USDT)">0.1000<' in html
    assert "899.88 USDT stays in cash for the lead's next buys" in _text(html)
    # why this size, in spot words
    words = _text(html)
    assert "Weight: this holding is about 10.001% of the lead's spot equity now" in words
    assert "Base: your copy starts with an equity of 1,000.00 USDT." in words
    assert "Quantity: about 100.01 USDT ÷ 50,000.00 USDT per BTC = about 0.0020002 BTC" in words
    assert "rounded down to the lot: 0.0020002 BTC." in words
    assert "Result: 0.0020002 BTC at 50,000.00 USDT, cost 100.01 USDT, fee 0.10001 USDT" in words
    assert "contract" not in words and "leverage" not in words.lower()
    # off: the same holding, said as what would be bought
    off = client.get(url, headers=HX).content.decode()
    assert "With Buy Existing Assets on, 1,000.00 USDT would buy" in off
    assert "Buy Existing Assets is off: none of these is bought now" in _text(off)


def test_preview_of_a_lead_holding_nothing(client, follower, prices):
    lead = spot_lead("10000", nickname="Cashy")
    html = client.get(
        f"/copies/new/preview/?trader={lead.pk}&market=spot&total_investment=500"
        "&copy_ongoing_positions=on",
        headers=HX,
    ).content.decode()
    assert "Cashy holds no assets now: nothing is bought at the start" in _text(html)


def _review(client, lead, amount="1000", ongoing=True):
    page = client.get(_url(lead, "spot")).content.decode()
    data = {"step": "investment", "draft": _hidden(page, "draft"), "total_investment": amount}
    if ongoing:
        data["copy_ongoing_positions"] = "on"
    step2 = client.post(_url(lead, "spot"), data).content.decode()
    assert 'aria-current="step">Total Stop Loss for Trader' in step2
    data = {
        "step": "stop_loss",
        "draft": _hidden(step2, "draft"),
        "total_stop_loss": "",
        "stop_loss_unit": "usdt",
        "stop_loss_action": "close_all",
    }
    return client.post(_url(lead, "spot"), data).content.decode()


def _confirm(client, lead, review_html, **extra):
    data = {
        "step": "review",
        "draft": _hidden(review_html, "draft"),
        "idempotency_key": _hidden(review_html, "idempotency_key"),
    }
    return client.post(_url(lead, "spot"), data, **extra)


def test_stop_loss_step_speaks_of_holdings(client, follower, holding_lead):
    page = client.get(_url(holding_lead)).content.decode()
    data = {"step": "investment", "draft": _hidden(page, "draft"), "total_investment": "1000"}
    html = client.post(_url(holding_lead), data).content.decode()
    assert "Total Investment 1,000.00 USDT · Buy Existing Assets off" in html
    assert "Sell all holdings at market" in html
    assert "Every holding of this copy is sold at market" in html
    assert "Close all positions at market" not in html


def test_review_says_what_happens_to_the_money(client, follower, holding_lead):
    words = _text(_review(client, holding_lead, "1,000", ongoing=True))
    assert "1,000.00 USDT moves from your main account into a new spot copy account" in words
    assert "has 5,000.00 USDT available and keeps 4,000.00 USDT" in words
    assert "Buy Existing Assets: 1 of Spotty's 1 holding is bought now at market for" in words
    assert "100.01 USDT, with 0.1000 USDT in fees on top; 899.88 USDT stays in cash" in words
    assert "each buy Spotty makes is mirrored at the same share of equity" in words
    assert "sells the same fraction of what it bought, receiving USDT less the fee" in words
    assert "every holding is sold at market and all the USDT returns to your main account" in words
    assert not Copy.objects.filter(follower=follower).exists()  # nothing happened yet


def test_confirm_starts_a_spot_copy_that_buys_the_holding_once(client, follower, holding_lead):
    html = _review(client, holding_lead, "1,000", ongoing=True)
    first = _confirm(client, holding_lead, html)
    second = _confirm(client, holding_lead, html)  # a double submit
    copy = Copy.objects.get(follower=follower)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/copies/{copy.pk}/"
    assert copy.market == "spot" and copy.copy_ongoing_positions
    assert account_main(user=follower).balance == Decimal("4000")
    h = Position.objects.get(account_id=copy.account_id)
    assert (h.size, h.margin, h.fees) == (
        Decimal("0.0020002"),
        Decimal("100.01"),
        Decimal("0.10001"),
    )
    page = client.get(first["Location"]).content.decode()
    assert "You are now copying Spotty&#x27;s spot trades with 1,000.00 USDT." in page
    words = _text(page)
    assert "Buy Existing Assets, when the copy started" in words
    assert "Weight: this holding was about 10.001% of the lead's spot equity when the copy" in words


# --- Copy Trade Details -------------------------------------------------------------------
def test_details_show_the_holding_of_the_spec_example(client, spot_copy):
    html = client.get(f"/copies/{spot_copy.pk}/").content.decode()
    words = _text(html)
    assert "Spotty · Spot · since" in words
    assert "Equity</dt><dd>999.90 USDT" in html
    assert "Holdings</dt><dd>100.00 USDT" in html and "cost 100.00 USDT" in html
    assert "Cash</dt><dd>899.90 USDT" in html
    holdings = html[html.index('id="positions"') : html.index('id="history"')]
    assert ">Holdings</h2>" in holdings
    assert 'data-label="Quantity"><span class="nowrap">0.002 BTC</span>' in holdings
    assert '<div class="cell">50,000.00<span class="sub muted nowrap">cost 100.00' in holdings
    assert 'data-label="Value (USDT)"><strong>100.00</strong>' in holdings
    # no leverage, margin level or liquidation price for spot
    for futures_word in ("Liquidation", "Margin level", "1x", "contracts", "Funding"):
        assert futures_word not in holdings
    assert "Funding paid/received" not in html
    # why this size: SPEC §6's words and figures
    hw = _text(holdings)
    assert "First buy" in hw
    assert "Ratio: the lead spent 10% of their spot equity on this buy" in hw
    assert "Amount: 10% × 1,000.00 USDT = 100.00 USDT to spend." in hw
    assert "Quantity: 100.00 USDT ÷ 50,000.00 USDT per BTC = 0.002 BTC" in hw
    assert "Result: 0.002 BTC at 50,000.00 USDT, cost 100.00 USDT, fee 0.10 USDT paid on top." in hw
    assert "No sells yet." in words


def test_details_follow_the_price_and_list_sells(client, spot_copy, mirror):
    set_price("BTC-USDT", "55000")
    html = client.get(f"/copies/{spot_copy.pk}/").content.decode()
    assert 'data-label="Value (USDT)"><strong>110.00</strong>' in html
    assert '<span class="pos">+10.00</span>' in html  # unrealized PnL, with its sign
    assert "Equity</dt><dd>1,009.90 USDT" in html
    mirror(lead_spot_sell, lead=spot_copy.lead, instrument="BTC-USDT", fraction="0.5")
    html = client.get(f"/copies/{spot_copy.pk}/").content.decode()
    sells = html[html.index('id="history"') :]
    assert ">Sells</h2>" in sells
    assert 'data-label="Quantity"><span class="nowrap">0.001 BTC</span>' in sells
    assert 'data-label="Proceeds (USDT)">55.00<' in sells
    assert 'data-label="Fee (USDT)">0.055<' in sells
    assert '<span class="pos">+5.00</span>' in sells
    assert "Spotty sold 50.00% of their BTC" in sells
    holdings = html[html.index('id="positions"') : html.index('id="history"')]
    assert 'data-label="Quantity"><span class="nowrap">0.001 BTC</span>' in holdings


def test_a_later_buy_adds_its_own_why_this_size(client, spot_copy, mirror):
    # lead equity 9,999 buys 1,000 more (10.001..%); the copy's equity 999.9 -> about 100.00
    mirror(lead_spot_buy, lead=spot_copy.lead, instrument="BTC-USDT", amount="1000")
    html = client.get(f"/copies/{spot_copy.pk}/").content.decode()
    words = _text(html[html.index('id="positions"') : html.index('id="history"')])
    assert "(2 buys)" in words
    assert "Added at average cost" in words
    assert "Base: your copy's equity was 999.90 USDT when it was sized." in words


def test_details_live_holdings_partial(client, spot_copy):
    html = client.get(f"/copies/{spot_copy.pk}/live/positions/", headers=HX).content.decode()
    assert "<html" not in html and html.lstrip().startswith('<div id="open-positions"')
    assert "0.002 BTC" in html and "Sell" in html


def test_a_missed_and_a_bumped_spot_buy_are_explained(client, prices, mirror):
    # copy of 100 of a 10,000 lead. A buy of 30 (0.3%): 0.30 USDT -> 0.000006 BTC, below the
    # minimum 0.00001 BTC, whose cost 0.50 is within 10 x 0.30: bumped. A buy of 4 more BTC
    # (0.04% of equity 9,999.97): about 0.04 USDT; the minimum costs 0.50 > 10 x 0.04: missed.
    lead = spot_lead("10000", nickname="Tiny")
    follower = follower_make("100")
    copy = copy_make(lead, follower=follower, investment="100", market="spot")
    mirror(lead_spot_buy, lead=lead, instrument="BTC-USDT", amount="30")
    mirror(lead_spot_buy, lead=lead, instrument="BTC-USDT", amount="4")
    client.force_login(follower)
    words = _text(client.get(f"/copies/{copy.pk}/").content.decode())
    assert (
        "Bump: that is below the minimum quantity of BTC, so it was raised to 0.00001 BTC" in words
    )
    assert "Missed: below minimum size. Even the minimum quantity would have cost more" in words
    assert "Spot buy · BTC-USDT" in words


# --- My Copies ------------------------------------------------------------------------------
def test_my_copies_shows_a_spot_copy_with_its_holdings(client, spot_copy):
    html = client.get("/copies/").content.decode()
    row = html[html.index(f'id="copy-{spot_copy.pk}"') :]
    assert "Spot · " in row
    assert '<th scope="col" class="num">Holdings</th>' in html
    assert 'data-label="Holdings (USDT)"' in row
    assert "<span>100.00</span>" in row and "0.002 BTC" in row
    assert 'data-label="Equity (USDT)">999.90<' in row
    assert 'data-label="Available (USDT)">899.90<' in row


def test_my_copies_with_both_markets_names_the_column_for_both(client, spot_copy, prices):
    futures_lead = lead_make(nickname="Perp")
    copy_make(futures_lead, follower=spot_copy.follower, investment="200")
    html = client.get("/copies/").content.decode()
    assert "Margin / holdings</th>" in html
    assert 'data-label="Margin in use (USDT)"' in html and 'data-label="Holdings (USDT)"' in html


# --- sell by hand, Settings, Stop copying ---------------------------------------------------
def test_sell_a_holding_by_hand_once(client, spot_copy):
    h = Position.objects.get(account_id=spot_copy.account_id)
    url = f"/copies/{spot_copy.pk}/positions/{h.pk}/close/"
    page = client.get(url).content.decode()
    words = _text(page)
    assert "Sell all your BTC?" in words
    assert "Quantity 0.002 BTC" in words
    # at 50,000: fetches 100.00, fee 0.10, back to cash 99.90 -> 899.90 + 99.90 = 999.80
    assert "About 99.90 USDT goes to this copy's cash" in words
    assert "which is then about 999.80 USDT" in words
    key = _hidden(page, "idempotency_key")
    first = client.post(url, {"idempotency_key": key})
    second = client.post(url, {"idempotency_key": key})
    assert first.status_code == second.status_code == 302
    h.refresh_from_db()
    assert h.status == "closed" and h.fees == Decimal("0.2")  # 0.1 to buy + 0.1 to sell
    assert Account.objects.get(pk=spot_copy.account_id).balance == Decimal("999.8")
    html = client.get(first["Location"]).content.decode()
    assert "Sold your BTC at 50,000.00 USDT. The USDT stays in this copy." in html
    assert "Sold by you at market" in html


def test_settings_speak_of_holdings(client, spot_copy):
    words = _text(client.get(f"/copies/{spot_copy.pk}/settings/").content.decode())
    assert "Smart Sync copy of Spotty · Spot ·" in words
    assert "Free to take out 899.90 USDT the USDT cash; the rest is in holdings" in words
    assert "Future buys are sized on the new amount." in words
    assert "Every holding is sold at market, profit share is settled" in words
    assert "Hand over holdings to me" in words


def test_stop_copying_sells_every_holding_and_says_what_returns(client, spot_copy):
    url = f"/copies/{spot_copy.pk}/stop/"
    page = client.get(url).content.decode()
    words = _text(page)
    assert "Every holding is sold at market now:" in words
    stop = page[page.index("stop-sells") :]
    assert 'data-label="Quantity"><span class="nowrap">0.002 BTC</span>' in stop
    assert 'data-label="Fee (USDT)">0.10<' in stop
    assert 'data-label="To cash (USDT)">99.90<' in stop
    assert "About 999.80 USDT returns to your main account." in words
    key = _hidden(page, "idempotency_key")
    first = client.post(url, {"idempotency_key": key})
    second = client.post(url, {"idempotency_key": key})
    assert first.status_code == second.status_code == 302
    spot_copy.refresh_from_db()
    assert spot_copy.status == "stopped"
    # 5,000 - 1,000 + 999.80: the buy fee 0.10 and the sale fee 0.10, nothing to share
    assert account_main(user=spot_copy.follower).balance == Decimal("4999.8")
    html = client.get(first["Location"]).content.decode()
    assert "You stopped copying Spotty: 999.80 USDT returned to your main account." in html
    assert "Copy stopped: every holding sold at market" in html


# --- query counts ---------------------------------------------------------------------------
def test_spot_pages_queries_do_not_grow_with_holdings_buys_and_sells(client, prices, mirror):
    lead = spot_lead("100000", nickname="Busy")
    follower = follower_make("50000")
    copy = copy_make(lead, follower=follower, investment="10000", market="spot")
    mirror(lead_spot_buy, lead=lead, instrument="BTC-USDT", amount="1000")
    mirror(lead_spot_sell, lead=lead, instrument="BTC-USDT", fraction="0.5")
    client.force_login(follower)
    urls = ["/copies/", f"/copies/{copy.pk}/", f"/copies/{copy.pk}/live/positions/"]
    urls += [f"/copies/{copy.pk}/stop/", f"/copies/{copy.pk}/settings/"]
    small = {u: _queries(client, u) for u in urls}
    # every asset held, each bought 6 times, 30 sells (more than a page), 18 more spot copies
    for name in ("BTC-USDT", "ETH-USDT", "SOL-USDT"):
        for _ in range(6):
            mirror(lead_spot_buy, lead=lead, instrument=name, amount="2000")
    for _ in range(29):
        mirror(lead_spot_sell, lead=lead, instrument="ETH-USDT", fraction="0.05")
    for _ in range(18):  # 20 active copies at most
        other = spot_lead("10000")
        mirror(lead_spot_buy, lead=other, instrument="SOL-USDT", amount="1000")
        copy_make(other, follower=follower, investment="100", market="spot")
    assert Position.objects.filter(account_id=copy.account_id, status="open").count() == 3
    big = {u: _queries(client, u) for u in urls}
    assert big == small


def test_a_futures_copy_beside_keeps_its_positions_page(client, prices, mirror):
    # a lead of both markets: the futures copy still shows positions with leverage and risk
    lead = spot_lead("10000", futures="10000", nickname="Both")
    follower = follower_make("3000")
    copy = copy_make(lead, follower=follower, investment="1000")
    mirror(
        lead_position_open,
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="1000",
    )
    client.force_login(follower)
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    assert ">Open positions</h2>" in html and "Liquidation price" in html and "5x cross" in html


def test_a_triggered_stop_loss_speaks_of_holdings(client, prices, mirror):
    # a spot copy of 1,000 with Total Stop Loss for Trader 50 (keep): BTC falls from 50,000 to
    # 20,000, so its 0.002 BTC is worth 40.00 and its equity 899.90 + 40 = 939.90: PnL -60.10
    from apps.copies.risk import risk_pass

    lead = spot_lead("10000", nickname="Spotty")
    follower = follower_make("1000")
    copy = copy_make(
        lead,
        follower=follower,
        investment="1000",
        market="spot",
        total_stop_loss="50",
        stop_loss_action="keep",
    )
    mirror(lead_spot_buy, lead=lead, instrument="BTC-USDT", amount="1000")
    set_price("BTC-USDT", "20000")
    risk_pass(instrument_ids=None)
    copy.refresh_from_db()
    assert copy.is_stopping
    client.force_login(follower)
    words = _text(client.get(f"/copies/{copy.pk}/").content.decode())
    assert (
        "at PnL -60.10 USDT (your stop loss: 50.00 USDT); holdings follow the lead's sells" in words
    )
    assert "No new buys. The USDT returns to your main account once no holding is left" in words


def test_selling_by_hand_after_a_mirrored_sell_names_this_sale_price(client, spot_copy, mirror):
    # the lead sells half at 55,000 (the copy sells 0.001), then the follower sells the rest
    # at 60,000: the message names 60,000, not the average of both sells (57,500)
    set_price("BTC-USDT", "55000")
    mirror(lead_spot_sell, lead=spot_copy.lead, instrument="BTC-USDT", fraction="0.5")
    set_price("BTC-USDT", "60000")
    h = Position.objects.get(account_id=spot_copy.account_id)
    url = f"/copies/{spot_copy.pk}/positions/{h.pk}/close/"
    response = client.post(url, {"idempotency_key": "by-hand"}, follow=True)
    assert "Sold your BTC at 60,000.00 USDT." in response.content.decode()
