"""The lead console (/lead/): who may use it, the figures it shows, the quote before an open,
and every action (transfer, open, close, leverage, margin, end) through real forms, with and
without htmx, each refusal next to its field with the typed value kept, and a double submit
doing one thing.

Expected figures are hand calculations from SPEC §4 and §5.2 (BTC-USDT-SWAP: contract value
0.01 BTC, lot 0.01, min size 0.01, taker fee 0.0005, max 100x) at a price of 50,000:
- margin 1,000 at 5x -> 1,000 x 5 / (50,000 x 0.01) = 10 contracts, fee 10 x 0.01 x 50,000 x
  0.0005 = 2.50; a lead with 10,000 then has equity 9,997.50, cash and available 8,997.50;
- margin 100 at 5x -> 1 contract, margin used 100.00, fee 0.25;
- the minimum 0.01 contracts at 1x needs 0.01 x 0.01 x 50,000 / 1 = 5.00 USDT.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.copies.models import Copy
from apps.ledger.services import account_main, deposit_credit
from apps.positions.models import Position
from apps.traders.models import LeadTrader
from apps.traders.services import lead_position_open
from tests.factories.ledger import user_with_main_balance
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def btc():
    set_price("BTC-USDT-SWAP", "50000")


@pytest.fixture
def lead(btc):
    return lead_make(equity="10000", nickname="Whale")


def _open(lead, *, margin="1000", mode="cross", leverage=5, side="long") -> Position:
    return lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side=side,
        margin_mode=mode,
        leverage=leverage,
        margin=margin,
    )


def _field(html: str, name: str) -> str:
    """The rendered block of one form field (templates/includes/field.html)."""
    m = re.search(rf'<div class="field[^"]*" id="field-{name}">(.*?)\n</div>', html, re.S)
    assert m, f"no field {name} in the page"
    return m.group(1)


def _key(html: str, form_id: str) -> str:
    form = html[html.index(f'id="{form_id}"') :]
    return re.search(r'name="idempotency_key" value="([0-9a-f]+)"', form).group(1)


def _futures_balance(lead) -> Decimal:
    lead.futures_account.refresh_from_db()
    return lead.futures_account.balance


# --- who may use it ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    ["/lead/", "/lead/quote/", "/lead/end/", "/lead/positions/1/"],
)
def test_anonymous_users_are_sent_to_log_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_user_who_is_not_a_lead_gets_a_page_that_says_so(client, lead):
    # given a follower (no LeadTrader row)
    client.force_login(user_with_main_balance("500"))
    # when
    page = client.get("/lead/")
    post = client.post(
        "/lead/transfer/", {"direction": "in", "amount": "100", "idempotency_key": "k1"}
    )
    # then: 403 with words, and nothing moved
    assert page.status_code == 403 and post.status_code == 403
    html = page.content.decode()
    assert "The lead console is for lead traders" in html
    assert "approved by our operators" in html
    assert 'href="/traders/"' in html
    assert "Lead console</a>" not in html  # the nav offers it to lead traders only


def test_another_leads_position_is_404(client, lead):
    other = lead_make(nickname="Other")
    theirs = _open(other)
    client.force_login(lead.user)
    assert client.get(f"/lead/positions/{theirs.pk}/").status_code == 404
    response = client.post(
        f"/lead/positions/{theirs.pk}/close/", {"preset": "100", "idempotency_key": "x"}
    )
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == Position.Status.OPEN


# --- the page ------------------------------------------------------------------------------
def test_console_shows_account_figures_copiers_aum_and_positions(
    client, lead, django_capture_on_commit_callbacks
):
    # given a copier with 1,000 and the lead's 1,000 margin 5x long (mirrored: 1 contract)
    copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks(execute=True):
        _open(lead)
    client.force_login(lead.user)
    # when
    response = client.get("/lead/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Lead console · Smart Sync</title>" in html
    figures = html[html.index('id="figures"') : html.index("Open a position")]
    assert "Equity</dt><dd>9,997.50 USDT" in figures
    assert "Available</dt><dd>8,997.50 USDT" in figures
    assert "Cash</dt><dd>8,997.50 USDT" in figures
    assert "Margin in use</dt><dd>1,000.00 USDT" in figures
    assert "Unrealized PnL</dt><dd" in figures and "0.00 USDT" in figures
    assert "1 / 1,000" in figures  # copiers now / max
    # AUM: the copy's equity, 1,000 - 0.25 open fee
    assert "999.75 USDT" in figures
    positions = html[html.index('id="positions"') :]
    assert "BTC-USDT-SWAP" in positions and "Long" in positions and "5x cross" in positions
    assert 'data-label="Size (contracts)">10.00<' in positions
    assert 'data-label="Margin (USDT)">1,000.00<' in positions
    pos = Position.objects.get(account_id=lead.futures_account_id)
    assert f'href="/lead/positions/{pos.pk}/"' in positions
    # live figures poll a partial; every money form carries an idempotency key
    assert 'hx-get="/lead/?part=figures"' in html and 'hx-trigger="every 5s"' in html
    # open + transfer, and the spot section's buy + transfer (no holding to sell yet)
    assert html.count('name="idempotency_key"') == 4
    assert "End my strategy" in html


def test_live_partials_answer_only_the_numbers(client, lead):
    _open(lead)
    client.force_login(lead.user)
    figures = client.get("/lead/?part=figures", **HTMX).content.decode()
    positions = client.get("/lead/?part=positions", **HTMX).content.decode()
    assert figures.lstrip().startswith('<section id="figures"') and "<html" not in figures
    assert "9,997.50 USDT" in figures
    assert positions.lstrip().startswith('<section id="positions"') and "<nav" not in positions
    assert "BTC-USDT-SWAP" in positions


def test_unrealized_pnl_is_shown_with_its_sign(client, lead):
    _open(lead)  # 10 contracts long from 50,000
    set_price("BTC-USDT-SWAP", "49000")  # 10 x 0.01 x -1,000 = -100
    client.force_login(lead.user)
    html = client.get("/lead/").content.decode()
    assert 'class="neg">-100.00 USDT' in html
    set_price("BTC-USDT-SWAP", "50500")  # +50
    html = client.get("/lead/").content.decode()
    assert 'class="pos">+50.00 USDT' in html


# --- the quote before an open --------------------------------------------------------------
def test_quote_shows_size_margin_and_fee_at_the_current_price(client, lead):
    client.force_login(lead.user)
    response = client.get(
        "/lead/quote/", {"instrument": "BTC-USDT-SWAP", "leverage": "5", "margin": "100"}, **HTMX
    )
    html = response.content.decode()
    # only the box's content: the box (and its triggers) stays on the page
    assert html.lstrip().startswith('<div class="quote"') and 'id="open-quote"' not in html
    assert "50,000.00 USDT" in html
    assert "<dt>Size</dt><dd>1.00 contracts</dd>" in html
    assert "<dt>Margin used</dt><dd>100.00 USDT</dd>" in html
    assert "<dt>Fee</dt><dd>0.25 USDT</dd>" in html


def test_quote_warns_before_an_open_needs_more_than_is_available(client, lead):
    client.force_login(lead.user)
    query = {"instrument": "BTC-USDT-SWAP", "leverage": "5", "margin": "100"}
    assert "more than the" not in client.get("/lead/quote/", query, **HTMX).content.decode()
    # 9,998 margin at 5x: 99.98 contracts, fee 99.98 x 500 x 0.0005 = 24.995; 10,022.995 is
    # more than the 10,000.00 the lead futures account holds
    query["margin"] = "9,998"
    html = client.get("/lead/quote/", query, **HTMX).content.decode()
    assert "<dd>99.98 contracts</dd>" in html
    assert "Margin and fee come to more than the 10,000.00 USDT available" in html


def test_quote_reads_thousands_separators_and_follows_the_price(client, lead):
    client.force_login(lead.user)
    query = {"instrument": "BTC-USDT-SWAP", "leverage": "5", "margin": "1,000"}
    html = client.get("/lead/quote/", query).content.decode()
    assert "<dd>10.00 contracts</dd>" in html and "<dd>2.50 USDT</dd>" in html
    # at 40,000: 1,000 x 5 / 400 = 12.5 contracts, fee 12.5 x 400 x 0.0005 = 2.50
    set_price("BTC-USDT-SWAP", "40000")
    html = client.get("/lead/quote/", query).content.decode()
    assert "<dd>12.50 contracts</dd>" in html and "40,000.00 USDT" in html


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (
            {"leverage": "1", "margin": "1"},
            "Margin too small: the minimum size 0.01 contracts needs 5.00 USDT at 1x.",
        ),
        ({"leverage": "500", "margin": "100"}, "Leverage must be between 1 and 100x"),
        ({"leverage": "five", "margin": "100"}, "Leverage must be a whole number"),
        ({"leverage": "5", "margin": "abc"}, "Margin must be a number"),
        ({"leverage": "5", "margin": "-3"}, "Margin must be greater than 0."),
        ({"leverage": "5", "margin": ""}, "Type a margin to see the size"),
    ],
)
def test_quote_says_why_it_cannot_quote(client, lead, query, words):
    client.force_login(lead.user)
    html = client.get("/lead/quote/", {"instrument": "BTC-USDT-SWAP", **query}).content.decode()
    assert words in html
    assert "<dt>Size</dt>" not in html


def test_preview_without_javascript_shows_the_quote_and_opens_nothing(client, lead):
    client.force_login(lead.user)
    key = _key(client.get("/lead/").content.decode(), "open-form")
    response = client.post(
        "/lead/positions/open/",
        {
            "instrument": "BTC-USDT-SWAP",
            "side": "long",
            "margin_mode": "cross",
            "leverage": "5",
            "margin": "100",
            "idempotency_key": key,
            "preview": "1",
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<dd>1.00 contracts</dd>" in html and "<dd>0.25 USDT</dd>" in html
    assert 'value="100"' in html  # the typed margin stays for the real submit
    assert not Position.objects.filter(account_id=lead.futures_account_id).exists()


# --- open ------------------------------------------------------------------------------------
def _open_data(key, **kw):
    return {
        "instrument": "BTC-USDT-SWAP",
        "side": "long",
        "margin_mode": "cross",
        "leverage": "5",
        "margin": "100",
        "idempotency_key": key,
    } | kw


def test_open_a_position_then_a_double_submit_opens_nothing_more(
    client, lead, django_capture_on_commit_callbacks
):
    copy = copy_make(lead, investment="1000")
    client.force_login(lead.user)
    key = _key(client.get("/lead/").content.decode(), "open-form")
    # when: the form is sent twice with its key (a double click)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/lead/positions/open/", _open_data(key, margin="1,000"))
        second = client.post("/lead/positions/open/", _open_data(key, margin="1,000"))
    # then: one position of 10 contracts, both answers go back to the console
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == "/lead/"
    pos = Position.objects.get(account_id=lead.futures_account_id)
    assert (pos.size, pos.margin, pos.leverage) == (Decimal("10"), Decimal("1000"), 5)
    assert _futures_balance(lead) == Decimal("9997.5")  # one fee of 2.50
    # and it reached the copier through the same mirroring as the API (ratio 0.1: 1 contract)
    assert Position.objects.get(account_id=copy.account_id).size == Decimal("1")
    html = client.get("/lead/").content.decode()
    assert "Opened BTC-USDT-SWAP long 5x cross: 10.00 contracts at 50,000.00 USDT." in html


def test_open_with_htmx_redirects_the_client(client, lead):
    client.force_login(lead.user)
    response = client.post("/lead/positions/open/", _open_data("h1"), **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/lead/"
    assert Position.objects.filter(account_id=lead.futures_account_id).count() == 1


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (
            {"margin": "20000"},
            "margin",
            "exceeds the 10,000.00 USDT available in your lead futures account",
        ),
        (
            {"margin": "1", "leverage": "1"},
            "margin",
            "Margin too small: the minimum size 0.01 contracts needs 5.00 USDT at 1x.",
        ),
        ({"margin": "0"}, "margin", "Margin must be greater than 0."),
        (
            {"leverage": "101"},
            "leverage",
            "Leverage must be between 1 and 100x for BTC-USDT-SWAP.",
        ),
        ({"leverage": "x"}, "leverage", "Leverage must be a whole number, e.g. 5."),
    ],
)
def test_open_refusals_sit_next_to_their_field_with_the_typed_value(
    client, lead, data, field, words
):
    client.force_login(lead.user)
    response = client.post("/lead/positions/open/", _open_data("r1", **data))
    assert response.status_code == 200
    block = _field(response.content.decode(), field)
    assert words in block
    assert f'value="{data[field]}"' in block
    assert 'aria-invalid="true"' in block
    assert not Position.objects.filter(account_id=lead.futures_account_id).exists()
    assert _futures_balance(lead) == Decimal("10000")


def test_open_refusal_with_htmx_answers_the_form_partial(client, lead):
    client.force_login(lead.user)
    response = client.post("/lead/positions/open/", _open_data("r2", margin="20000"), **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="open-form"') and "<html" not in html
    assert "exceeds the 10,000.00 USDT available" in _field(html, "margin")
    assert 'name="idempotency_key" value="r2"' in html  # nothing recorded: the key stays usable


def test_a_key_reused_for_other_values_is_refused_in_words(client, lead):
    client.force_login(lead.user)
    client.post("/lead/positions/open/", _open_data("same"))
    response = client.post("/lead/positions/open/", _open_data("same", margin="200"))
    html = response.content.decode()
    assert "This form was already sent with other values" in html
    assert 'name="idempotency_key" value="same"' not in html  # a fresh key to send it again
    assert Position.objects.filter(account_id=lead.futures_account_id).count() == 1


# --- transfer --------------------------------------------------------------------------------
def test_transfer_in_and_out_with_one_movement_per_key(client, lead):
    deposit_credit(user=lead.user, amount=Decimal("3000"), key="lead-extra")
    main = account_main(user=lead.user)
    client.force_login(lead.user)
    key = _key(client.get("/lead/").content.decode(), "transfer-form")
    data = {"direction": "in", "amount": "2,500.50", "idempotency_key": key}
    assert client.post("/lead/transfer/", data).status_code == 302
    assert client.post("/lead/transfer/", data).status_code == 302  # resubmitted
    assert _futures_balance(lead) == Decimal("12500.50")
    main.refresh_from_db()
    assert main.balance == Decimal("499.50")  # 3,000 - 2,500.50, moved once
    html = client.get("/lead/").content.decode()
    assert "Moved 2,500.50 USDT into your lead futures account." in html
    out = {"direction": "out", "amount": "500", "idempotency_key": "out-1"}
    assert client.post("/lead/transfer/", out, **HTMX)["HX-Redirect"] == "/lead/"
    assert _futures_balance(lead) == Decimal("12000.50")


def test_transfer_refusals_next_to_the_amount(client, lead):
    _open(lead)  # 1,000 margin in use: 8,997.50 free
    client.force_login(lead.user)
    response = client.post(
        "/lead/transfer/", {"direction": "out", "amount": "9000", "idempotency_key": "t1"}
    )
    block = _field(response.content.decode(), "amount")
    assert "Only 8,997.50 USDT is free in your lead futures account" in block
    assert 'value="9000"' in block
    # main holds 2.50 (12.50 credited, 10 moved in): more is refused at the field, in the
    # lead's words, with no internal account code
    deposit_credit(user=lead.user, amount=Decimal("12.50"), key="lead-small")
    client.post("/lead/transfer/", {"direction": "in", "amount": "10", "idempotency_key": "t3"})
    assert "<dd>2.50 USDT</dd>" in client.get("/lead/").content.decode()  # shown on the card
    response = client.post(
        "/lead/transfer/", {"direction": "in", "amount": "5", "idempotency_key": "t2"}, **HTMX
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="transfer-form"')
    block = _field(html, "amount")
    assert "Your main account holds 2.50 USDT: that is all you can move in." in block
    assert 'value="5"' in block
    assert "main:" not in html and "Insufficient funds in" not in html
    assert _futures_balance(lead) == Decimal("10007.5")


# --- one position: close, leverage, margin -------------------------------------------------
def test_position_page_shows_its_figures_and_forms(client, lead):
    pos = _open(lead, mode="isolated")
    client.force_login(lead.user)
    html = client.get(f"/lead/positions/{pos.pk}/").content.decode()
    assert "BTC-USDT-SWAP" in html and "Isolated margin" in html
    # the one thing copiers do not copy in proportion is said (SPEC 5.3: above 1,000% is safe)
    assert "whose margin level is above 1,000% (already safe from liquidation)" in html
    assert "10.00 contracts" in html and "1,000.00 USDT" in html
    for form_id in ("close-form", "leverage-form", "margin-form"):
        assert f'id="{form_id}"' in html
    assert ">25%<" in html and ">50%<" in html and ">75%<" in html and ">Close all<" in html
    assert "Add margin" in html and "Reduce margin" in html


@pytest.mark.parametrize(
    ("data", "left"),
    [({"preset": "50"}, "5"), ({"percent": "40"}, "6"), ({"percent": "12.5 %"}, "8.75")],
)
def test_close_a_share_once(client, lead, data, left):
    pos = _open(lead)  # 10 contracts
    client.force_login(lead.user)
    body = {"idempotency_key": "c1"} | data
    first = client.post(f"/lead/positions/{pos.pk}/close/", body)
    second = client.post(f"/lead/positions/{pos.pk}/close/", body)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == f"/lead/positions/{pos.pk}/"
    pos.refresh_from_db()
    assert pos.size == Decimal(left)  # closed once, not twice
    html = client.get(f"/lead/positions/{pos.pk}/").content.decode()
    assert "contracts stay open" in html


def test_close_all_goes_back_to_the_console(client, lead):
    pos = _open(lead)
    client.force_login(lead.user)
    response = client.post(
        f"/lead/positions/{pos.pk}/close/", {"preset": "100", "idempotency_key": "c2"}, **HTMX
    )
    assert response["HX-Redirect"] == "/lead/"
    pos.refresh_from_db()
    assert pos.status == Position.Status.CLOSED
    assert "Closed your BTC-USDT-SWAP position." in client.get("/lead/").content.decode()


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("150", "The percentage must be more than 0 and at most 100."),
        ("0", "The percentage must be more than 0 and at most 100."),
        ("abc", "Type a number between 0 and 100"),
        ("", "Choose 25%, 50%, 75% or 100%, or type a percentage."),
        ("0.01", "That fraction closes less than one lot"),
    ],
)
def test_close_refusals_next_to_the_percentage(client, lead, typed, words):
    pos = _open(lead)
    client.force_login(lead.user)
    response = client.post(
        f"/lead/positions/{pos.pk}/close/", {"percent": typed, "idempotency_key": "c3"}, **HTMX
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="close-form"')
    assert words in _field(html, "percent")
    pos.refresh_from_db()
    assert pos.size == Decimal("10")


def test_change_leverage_and_its_refusals(client, lead):
    pos = _open(lead)  # 10 contracts, entry notional 5,000, margin 1,000 at 5x
    client.force_login(lead.user)
    response = client.post(
        f"/lead/positions/{pos.pk}/leverage/", {"leverage": "10", "idempotency_key": "l1"}
    )
    assert response.status_code == 302
    pos.refresh_from_db()
    assert (pos.leverage, pos.margin) == (10, Decimal("500"))  # 5,000 / 10
    refused = client.post(
        f"/lead/positions/{pos.pk}/leverage/", {"leverage": "10", "idempotency_key": "l2"}
    ).content.decode()
    assert "The position is already at 10x." in _field(refused, "leverage")
    refused = client.post(
        f"/lead/positions/{pos.pk}/leverage/", {"leverage": "200", "idempotency_key": "l3"}
    ).content.decode()
    block = _field(refused, "leverage")
    assert "Leverage must be between 1 and 100x for BTC-USDT-SWAP." in block
    assert 'value="200"' in block


def test_add_and_reduce_isolated_margin(client, lead):
    pos = _open(lead, mode="isolated")  # margin 1,000; floor 5,000 / 5 = 1,000
    client.force_login(lead.user)
    url = f"/lead/positions/{pos.pk}/margin/"
    add = {"action": "add", "amount": "150", "idempotency_key": "m1"}
    assert client.post(url, add).status_code == 302
    assert client.post(url, add).status_code == 302  # resubmitted: added once
    pos.refresh_from_db()
    assert pos.margin == Decimal("1150")
    assert client.post(url, {"action": "reduce", "amount": "100", "idempotency_key": "m2"})
    pos.refresh_from_db()
    assert pos.margin == Decimal("1050")
    refused = client.post(url, {"action": "reduce", "amount": "80", "idempotency_key": "m3"})
    block = _field(refused.content.decode(), "amount")
    assert "Margin cannot go below 1,000.00 USDT" in block
    assert "you can reduce by at most 50.00 USDT" in block
    assert 'value="80"' in block
    signed = client.post(url, {"action": "add", "amount": "-5", "idempotency_key": "m4"})
    assert "without a sign" in _field(signed.content.decode(), "amount")
    pos.refresh_from_db()
    assert pos.margin == Decimal("1050")


def test_cross_positions_have_no_margin_form_and_the_service_says_why(client, lead):
    pos = _open(lead)
    client.force_login(lead.user)
    html = client.get(f"/lead/positions/{pos.pk}/").content.decode()
    assert "Add margin" not in html and "shares your account's available cash" in html
    response = client.post(
        f"/lead/positions/{pos.pk}/margin/",
        {"action": "add", "amount": "10", "idempotency_key": "m5"},
    )
    assert "only be added to or reduced from isolated positions" in response.content.decode()


# --- end the strategy ---------------------------------------------------------------------
def test_end_confirmation_says_every_copy_will_stop(client, lead):
    copy_make(lead, investment="1000")
    copy_make(lead, investment="500")
    _open(lead)
    client.force_login(lead.user)
    html = client.get("/lead/end/").content.decode()
    assert "Every copy will stop" in html and "all 2 of your copiers" in html
    assert "1,500.00 USDT under management" in html
    assert "closed at market" in html
    assert "returned to each follower's main account" in html
    assert "You have 1 open position." in html and "cannot be undone" in html
    assert 'name="idempotency_key"' in html
    assert LeadTrader.objects.get(pk=lead.pk).is_active  # a GET changes nothing


def test_end_stops_every_copy_once_then_the_console_is_read_only(
    client, lead, django_capture_on_commit_callbacks
):
    copy = copy_make(lead, investment="1000")
    follower_main = account_main(user=copy.follower)
    client.force_login(lead.user)
    key = re.search(
        r'name="idempotency_key" value="([0-9a-f]+)"', client.get("/lead/end/").content.decode()
    ).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/lead/end/", {"idempotency_key": key})
        second = client.post("/lead/end/", {"idempotency_key": key})  # double click
    assert first.status_code == second.status_code == 302
    assert first["Location"] == "/lead/"
    lead.refresh_from_db()
    assert lead.status == LeadTrader.Status.ENDED
    copy.refresh_from_db()
    assert copy.status == Copy.Status.STOPPED
    follower_main.refresh_from_db()
    assert follower_main.balance == Decimal("1000")  # every USDT back
    html = client.get("/lead/").content.decode()
    assert "Your strategy has ended. Every copy is being stopped" in html  # the message
    assert "Your strategy ended" in html and "Strategy ended</span>" in html
    assert 'id="open-form"' not in html and "End my strategy" not in html
    assert 'value="in"' not in html and 'value="out"' in html  # money can only move out


def test_after_the_end_trading_is_refused_in_words_and_money_can_move_out(client, lead):
    pos = _open(lead)
    LeadTrader.objects.filter(pk=lead.pk).update(status=LeadTrader.Status.ENDED)
    client.force_login(lead.user)
    refused = client.post("/lead/positions/open/", _open_data("e1"))
    assert "This lead trader has ended their strategy." in refused.content.decode()
    # the lead can still unwind: the close form is there, leverage and margin are not
    page = client.get(f"/lead/positions/{pos.pk}/").content.decode()
    assert "You can still close it" in page and 'id="close-form"' in page
    assert 'id="leverage-form"' not in page and 'id="margin-form"' not in page
    refused = client.post(
        f"/lead/positions/{pos.pk}/leverage/", {"leverage": "3", "idempotency_key": "e2"}
    )
    assert "This lead trader has ended their strategy." in refused.content.decode()
    closed = client.post(
        f"/lead/positions/{pos.pk}/close/", {"preset": "100", "idempotency_key": "e2b"}
    )
    assert closed.status_code == 302
    pos.refresh_from_db()
    assert pos.status == Position.Status.CLOSED
    moved = client.post(
        "/lead/transfer/", {"direction": "out", "amount": "100", "idempotency_key": "e3"}
    )
    assert moved.status_code == 302
    # 10,000 - 2.5 open fee - 2.5 close fee (same price: no PnL) - 100 moved out
    assert _futures_balance(lead) == Decimal("9895")
    again = client.get("/lead/end/").content.decode()
    assert "Your strategy has already ended" in again


# --- query counts -------------------------------------------------------------------------
def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_console_queries_do_not_grow_with_positions_or_copiers(
    client, lead, django_assert_max_num_queries
):
    # given: 1 position and 1 copier
    copy_make(lead, investment="200")
    first = _open(lead, margin="100")
    client.force_login(lead.user)
    urls = ["/lead/", "/lead/?part=figures", "/lead/?part=positions", "/lead/end/"]
    small = {u: _count(client, u) for u in urls}
    small["position"] = _count(client, f"/lead/positions/{first.pk}/")
    # when: 30 open positions (more than a screen) and 25 copiers
    for _ in range(29):
        _open(lead, margin="100")
    for _ in range(24):
        copy_make(lead, investment="200")
    big = {u: _count(client, u) for u in urls}
    big["position"] = _count(client, f"/lead/positions/{first.pk}/")
    # then
    assert big == small
    # 15 for the console itself (the main account's balance for Move funds among them), 5 for
    # its earnings section (totals, the page of copies and
    # its count, their settlements, their realized PnL), 4 for the spot section (the spot
    # account's balance and open positions, its holdings, the spot instruments)
    with django_assert_max_num_queries(24):
        client.get("/lead/")
