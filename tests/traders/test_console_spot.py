"""The lead console's spot section (SPEC §6): the lead spot account's figures, moving funds in and
out, a buy of an amount of USDT with its quantity and fee before confirming (htmx quote and a
Preview button without JavaScript), a sale of a share of a holding, the holdings table; each
refusal next to its field with the typed value kept, a double submit doing one thing.

Hand calculations (BTC-USDT: lot 1e-8, minimum 0.00001 BTC, taker fee 0.001) at 50,000:
- SPEC §6's example: with 10,000 in the lead spot account, a buy of 1,000 USDT gets
  1,000 / 50,000 = 0.02 BTC and pays 1.00 fee on top: cash 8,999.00, holdings 1,000.00, equity
  9,999.00. A spot copy of 1,000 buys 100 USDT: 0.002 BTC, fee 0.10, cash 899.90.
- the minimum 0.00001 BTC costs 0.50 USDT; 0.40 USDT is too little.
- selling 50% of 0.02 BTC at 55,000 sells 0.01 BTC: it fetches 550.00, pays fee 0.55, releases
  cost 500.00, realized PnL +50.00; 0.01 BTC stays (value 550.00, uPnL +50.00).
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.ledger.models import Account
from apps.ledger.services import account_main, deposit_credit
from apps.positions.models import Position
from apps.traders.services import lead_spot_buy, lead_trader_end, lead_transfer
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def prices():
    set_price("BTC-USDT", "50000")
    set_price("ETH-USDT", "3000")
    set_price("SOL-USDT", "150")


@pytest.fixture
def lead(prices):
    """A lead whose lead spot account holds 10,000 USDT (nothing in futures, 0 left in main)."""
    lead = lead_make(equity="0", nickname="Spotty")
    deposit_credit(user=lead.user, amount=Decimal("10000"), key=f"spot:{lead.pk}")
    lead_transfer(lead=lead, market="spot", direction="in", amount="10000")
    lead.refresh_from_db()
    return lead


def _field(html: str, name: str) -> str:
    m = re.search(rf'<div class="field[^"]*" id="field-{name}">(.*?)\n</div>', html, re.S)
    assert m, f"no field {name} in the page"
    return m.group(1)


def _key(html: str, form_id: str) -> str:
    form = html[html.index(f'id="{form_id}"') :]
    return re.search(r'name="idempotency_key" value="([0-9a-f]+)"', form).group(1)


def _spot_balance(lead) -> Decimal:
    return Account.objects.get(pk=lead.spot_account_id).balance


def _holding(lead) -> Position | None:
    return Position.objects.filter(account_id=lead.spot_account_id, status="open").first()


def _buy(key="b1", amount="1,000", instrument="BTC-USDT", **extra) -> dict:
    return {"buy_instrument": instrument, "buy_amount": amount, "idempotency_key": key} | extra


# --- figures and holdings --------------------------------------------------------------------
def test_the_spot_section_shows_the_account_and_its_holdings(client, lead):
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    set_price("BTC-USDT", "55000")
    client.force_login(lead.user)
    html = client.get("/lead/").content.decode()
    spot = html[html.index('id="spot-figures"') : html.index('id="holdings"')]
    # cash 8,999; 0.02 BTC at 55,000 = 1,100: equity 10,099, uPnL +100
    assert "Equity</dt><dd>10,099.00 USDT" in spot
    assert "Cash</dt><dd>8,999.00 USDT" in spot
    assert "Holdings</dt><dd>1,100.00 USDT" in spot and "cost 1,000.00 USDT" in spot
    assert 'class="pos">+100.00 USDT' in spot
    holdings = html[html.index('id="holdings"') : html.index('id="earnings"')]
    assert 'data-label="Quantity"><span class="nowrap">0.02 BTC</span>' in holdings
    assert "50,000.00<span" in holdings  # average cost
    assert 'data-label="Value (USDT)"><strong>1,100.00</strong>' in holdings
    assert 'href="?sell=BTC-USDT#spot-sell"' in holdings
    assert "Liquidation" not in holdings and "leverage" not in holdings.lower().replace(
        "no leverage", ""
    )
    # the live parts answer only their numbers
    for part in ("spot-figures", "holdings"):
        partial = client.get(f"/lead/?part={part}", **HTMX).content.decode()
        assert "<html" not in partial and partial.lstrip().startswith(f'<section id="{part}"')


def test_a_sell_link_preselects_the_holding(client, lead):
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    lead_spot_buy(lead=lead, instrument="ETH-USDT", amount="3000")
    client.force_login(lead.user)
    html = client.get("/lead/?sell=BTC-USDT").content.decode()
    form = html[html.index('id="spot-sell-form"') :]
    assert '<option value="BTC-USDT" selected>BTC: 0.02 BTC</option>' in form
    assert '<option value="ETH-USDT">ETH: 1.00 ETH</option>' in form


# --- the buy and its quote -------------------------------------------------------------------
def test_quote_shows_quantity_cost_and_fee_before_buying(client, lead):
    client.force_login(lead.user)
    html = client.get(
        "/lead/spot/quote/", {"buy_instrument": "BTC-USDT", "buy_amount": "1,000"}, **HTMX
    ).content.decode()
    assert html.lstrip().startswith('<div class="quote">')  # the box's content alone
    assert "At the current BTC price of <strong>50,000.00 USDT</strong>" in html
    assert "Quantity</dt><dd>0.02 BTC" in html
    assert "Cost</dt><dd>1,000.00 USDT" in html
    assert "Fee (on top)</dt><dd>1.00 USDT" in html
    assert _holding(lead) is None


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({}, "Type an amount of USDT to see the quantity it buys and the fee."),
        (
            {"buy_instrument": "BTC-USDT", "buy_amount": "0.40"},
            "Amount too small: the minimum 0.00001 BTC costs 0.50 USDT at 50,000.00.",
        ),
        ({"buy_instrument": "BTC-USDT-SWAP", "buy_amount": "100"}, "Choose one of the listed"),
        ({"buy_instrument": "BTC-USDT", "buy_amount": "lots"}, "Amount"),
    ],
)
def test_quote_says_why_it_cannot_quote(client, lead, query, words):
    client.force_login(lead.user)
    html = client.get("/lead/spot/quote/", query, **HTMX).content.decode()
    assert words in html


def test_preview_without_javascript_shows_the_quote_and_buys_nothing(client, lead):
    client.force_login(lead.user)
    response = client.post("/lead/spot/buy/", _buy(preview="1"))
    html = response.content.decode()
    assert response.status_code == 200
    quote = html[html.index('id="spot-quote"') :]
    assert "Quantity</dt><dd>0.02 BTC" in quote and "Fee (on top)</dt><dd>1.00 USDT" in quote
    assert 'value="1,000"' in _field(html, "buy_amount")
    assert _holding(lead) is None and _spot_balance(lead) == Decimal("10000")


def test_buy_once_on_a_double_submit_and_copiers_buy_their_share(
    client, lead, django_capture_on_commit_callbacks
):
    copy = copy_make(lead, investment="1000", market="spot")
    client.force_login(lead.user)
    key = _key(client.get("/lead/").content.decode(), "spot-buy-form")
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/lead/spot/buy/", _buy(key))
        second = client.post("/lead/spot/buy/", _buy(key))  # resubmitted
    assert first.status_code == second.status_code == 302
    assert first["Location"] == "/lead/"
    h = _holding(lead)
    assert (h.size, h.margin, h.fees) == (Decimal("0.02"), Decimal("1000"), Decimal("1"))
    assert _spot_balance(lead) == Decimal("9999")  # 10,000 - fee 1; the cost stays as holding
    # SPEC §6: the copy of 1,000 bought 0.002 BTC with fee 0.1 and keeps 899.9 cash
    ch = Position.objects.get(account_id=copy.account_id)
    assert (ch.size, ch.margin, ch.fees) == (Decimal("0.002"), Decimal("100"), Decimal("0.1"))
    assert Account.objects.get(pk=copy.account_id).balance - ch.margin == Decimal("899.9")
    html = client.get("/lead/").content.decode()
    assert "Bought 0.02 BTC at 50,000.00 USDT, fee 1.00 USDT. You now hold 0.02 BTC." in html


def test_buy_with_htmx_redirects_the_client(client, lead):
    client.force_login(lead.user)
    response = client.post("/lead/spot/buy/", _buy("h1", "300", "ETH-USDT"), **HTMX)
    assert response.status_code == 200 and response["HX-Redirect"] == "/lead/"
    assert _holding(lead).size == Decimal("0.1")  # 300 / 3,000


def test_buy_refusals_sit_next_to_the_amount_with_the_typed_value(client, lead):
    client.force_login(lead.user)
    # 9,999 + fee 9.999 is more than the 10,000 cash
    html = client.post("/lead/spot/buy/", _buy("r1", "9,999")).content.decode()
    block = _field(html, "buy_amount")
    assert (
        "Buying 9,999.00 USDT of BTC + fee 9.999 USDT needs more than the 10,000.00 USDT" in block
    )
    assert 'value="9,999"' in block and 'aria-invalid="true"' in block
    # the minimum, with htmx: the form partial alone
    response = client.post("/lead/spot/buy/", _buy("r2", "0.40"), **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="spot-buy-form"')
    assert "Amount too small: the minimum 0.00001 BTC costs 0.50 USDT" in _field(html, "buy_amount")
    assert _holding(lead) is None and _spot_balance(lead) == Decimal("10000")


def test_buy_without_spot_equity_says_to_transfer_first(client, prices):
    lead = lead_make(equity="1000", nickname="Perp")  # futures only
    client.force_login(lead.user)
    html = client.post("/lead/spot/buy/", _buy("e1", "100")).content.decode()
    assert "Your lead spot account&#x27;s equity is 0.00 USDT" in _field(html, "buy_amount")


# --- the sell --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "left"),
    [
        ({"preset": "50"}, "0.01"),
        ({"sell_percent": "25"}, "0.015"),
        ({"sell_percent": "12.5 %"}, "0.0175"),
    ],
)
def test_sell_a_share_once(client, lead, data, left):
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")  # 0.02 BTC
    client.force_login(lead.user)
    body = {"sell_instrument": "BTC-USDT", "idempotency_key": "s1"} | data
    first = client.post("/lead/spot/sell/", body)
    second = client.post("/lead/spot/sell/", body)
    assert first.status_code == second.status_code == 302
    assert _holding(lead).size == Decimal(left)


def test_sell_half_at_a_higher_price_realizes_at_average_cost(client, lead):
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    set_price("BTC-USDT", "55000")
    client.force_login(lead.user)
    body = {"sell_instrument": "BTC-USDT", "preset": "50", "idempotency_key": "s2"}
    assert client.post("/lead/spot/sell/", body).status_code == 302
    h = _holding(lead)
    assert (h.size, h.margin, h.realized_pnl) == (Decimal("0.01"), Decimal("500"), Decimal("50"))
    assert h.fees == Decimal("1.55")  # 1 to buy, 0.55 to sell
    html = client.get("/lead/").content.decode()
    assert "Sold 50% of your BTC: 0.01 BTC left." in html
    holdings = html[html.index('id="holdings"') :]
    assert 'data-label="Realized PnL (USDT)">+50.00<' in holdings


def test_sell_all_then_the_resubmit_sells_nothing_more(client, lead):
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    client.force_login(lead.user)
    body = {"sell_instrument": "BTC-USDT", "preset": "100", "idempotency_key": "all"}
    assert client.post("/lead/spot/sell/", body).status_code == 302
    assert client.post("/lead/spot/sell/", body).status_code == 302  # the first answer again
    assert _holding(lead) is None
    # bought 1,000 + fee 1, sold 0.02 x 50,000 = 1,000 - fee 1: 9,998 left
    assert _spot_balance(lead) == Decimal("9998")
    html = client.get("/lead/").content.decode()
    assert "Sold all your BTC." in html
    assert "Nothing to sell: you hold no assets yet." in html


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({}, "Choose 25%, 50%, 75% or 100%, or type a percentage to sell."),
        (
            {"sell_percent": "abc"},
            "Type a number between 0 and 100, e.g. 40 (got &#x27;abc&#x27;).",
        ),
        ({"sell_percent": "150"}, "The percentage must be more than 0 and at most 100."),
    ],
)
def test_sell_refusals_next_to_the_percentage(client, lead, data, words):
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    client.force_login(lead.user)
    body = {"sell_instrument": "BTC-USDT", "idempotency_key": "x"} | data
    html = client.post("/lead/spot/sell/", body).content.decode()
    assert words in _field(html, "sell_percent")
    assert _holding(lead).size == Decimal("0.02")


def test_selling_what_is_not_held_is_refused_next_to_the_holding(client, lead):
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    client.force_login(lead.user)
    body = {"sell_instrument": "ETH-USDT", "preset": "50", "idempotency_key": "n1"}
    response = client.post("/lead/spot/sell/", body, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="spot-sell-form"')
    assert "You hold no ETH in your lead spot account." in _field(html, "sell_instrument")


# --- moving funds ----------------------------------------------------------------------------
def test_spot_transfer_in_and_out_once_per_key(client, lead):
    deposit_credit(user=lead.user, amount=Decimal("3000"), key="extra")
    client.force_login(lead.user)
    key = _key(client.get("/lead/").content.decode(), "spot-transfer-form")
    data = {"spot_direction": "in", "spot_amount": "2,500.50", "idempotency_key": key}
    assert client.post("/lead/spot/transfer/", data).status_code == 302
    assert client.post("/lead/spot/transfer/", data).status_code == 302  # resubmitted
    assert _spot_balance(lead) == Decimal("12500.50")
    assert account_main(user=lead.user).balance == Decimal("499.50")
    html = client.get("/lead/").content.decode()
    assert "Moved 2,500.50 USDT into your lead spot account." in html
    out = {"spot_direction": "out", "spot_amount": "500", "idempotency_key": "o1"}
    assert client.post("/lead/spot/transfer/", out, **HTMX)["HX-Redirect"] == "/lead/"
    assert _spot_balance(lead) == Decimal("12000.50")


def test_spot_transfer_out_moves_only_cash(client, lead):
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")  # cash 8,999
    client.force_login(lead.user)
    data = {"spot_direction": "out", "spot_amount": "9000", "idempotency_key": "o2"}
    html = client.post("/lead/spot/transfer/", data).content.decode()
    block = _field(html, "spot_amount")
    assert "Only 8,999.00 USDT is free in your lead spot account" in block
    assert 'value="9000"' in block
    assert _spot_balance(lead) == Decimal("9999")


# --- an ended strategy -----------------------------------------------------------------------
def test_after_the_end_selling_and_moving_out_still_work(client, lead):
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    lead_trader_end(lead=lead)
    client.force_login(lead.user)
    html = client.get("/lead/").content.decode()
    assert "Your strategy has ended: you can no longer buy." in html
    assert 'id="spot-buy-form"' not in html
    assert "In: main account → lead spot account" not in html
    body = {"sell_instrument": "BTC-USDT", "preset": "100", "idempotency_key": "end-sell"}
    assert client.post("/lead/spot/sell/", body).status_code == 302
    assert _holding(lead) is None
    refused = client.post("/lead/spot/buy/", _buy("end-buy", "100")).content.decode()
    assert "This lead trader has ended their strategy." in refused
    out = {"spot_direction": "out", "spot_amount": "9998", "idempotency_key": "end-out"}
    assert client.post("/lead/spot/transfer/", out).status_code == 302
    assert _spot_balance(lead) == Decimal("0")


# --- query counts ----------------------------------------------------------------------------
def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_console_queries_do_not_grow_with_holdings_or_spot_copiers(client, lead):
    lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    copy_make(lead, investment="200", market="spot")
    client.force_login(lead.user)
    urls = ["/lead/", "/lead/?part=spot-figures", "/lead/?part=holdings"]
    small = {u: _count(client, u) for u in urls}
    for name in ("ETH-USDT", "SOL-USDT", "BTC-USDT"):
        for _ in range(4):
            lead_spot_buy(lead=lead, instrument=name, amount="100")
    for _ in range(15):
        copy_make(lead, investment="200", market="spot")
    big = {u: _count(client, u) for u in urls}
    assert big == small
