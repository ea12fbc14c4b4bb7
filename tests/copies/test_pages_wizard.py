"""The copy wizard in the browser's terms (test client): Total Investment and Copy Ongoing
Positions -> Total Stop Loss for Trader and its action -> review -> confirm. Every refusal of
SPEC §5.1 next to its field with the typed value kept; a double submit starts one copy.

Expected figures are hand calculations from SPEC §5.2 (worked example): a lead with 10,000 USDT
equity opens 1,000 USDT margin 5x long on BTC at 50,000 (10 contracts, fee 2.50), so the lead's
equity is 9,997.50 afterwards; Copy Ongoing Positions with 1,000 USDT then targets
1,000 x 1,000 / 9,997.50 = 100.025 USDT margin -> 1.0002 contracts -> 1.00 contract,
margin 100.00, fee 1 x 0.01 x 50,000 x 0.0005 = 0.25.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import NoReverseMatch, reverse

from apps.copies.models import Copy
from apps.ledger.services import account_main
from apps.positions.models import Position
from apps.traders.models import LeadTrader
from apps.traders.services import lead_position_open, lead_trader_end
from tests.factories.trading import copy_make, follower_make, lead_make

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def _url(lead) -> str:
    return f"/copies/new/?trader={lead.pk}"


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} in the page"
    return match.group(1)


def _field(html: str, name: str) -> str:
    """The field include of ``name`` (label, input, help, error), as the page renders it."""
    start = html.index(f'id="field-{name}"')
    return html[start : start + 1500]


def _step1(client, lead, amount="1000", ongoing=True, **extra):
    page = client.get(_url(lead)).content.decode()
    data = {"step": "investment", "draft": _hidden(page, "draft"), "total_investment": amount}
    if ongoing:
        data["copy_ongoing_positions"] = "on"
    return client.post(_url(lead), data, **extra)


def _step2(client, lead, step1_html, value="", unit="usdt", action="close_all", **extra):
    data = {
        "step": "stop_loss",
        "draft": _hidden(step1_html, "draft"),
        "total_stop_loss": value,
        "stop_loss_unit": unit,
        "stop_loss_action": action,
    }
    return client.post(_url(lead), data, **extra)


def _review(client, lead, amount="1000", ongoing=True, value="", unit="usdt", action="close_all"):
    r1 = _step1(client, lead, amount, ongoing)
    r2 = _step2(client, lead, r1.content.decode(), value, unit, action)
    assert r2.status_code == 200
    return r2.content.decode()


def _confirm(client, lead, review_html, **extra):
    data = {
        "step": "review",
        "draft": _hidden(review_html, "draft"),
        "idempotency_key": _hidden(review_html, "idempotency_key"),
    }
    return client.post(_url(lead), data, **extra)


@pytest.fixture
def lead_with_position(btc, mirror):
    lead = lead_make(equity="10000", nickname="Whale")
    mirror(
        lead_position_open,
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="1000",
    )
    return lead


@pytest.fixture
def follower(client):
    user = follower_make("5000")
    client.force_login(user)
    return user


# --- reaching the wizard ------------------------------------------------------------------
def test_wizard_anonymous_is_sent_to_log_in(client, btc):
    lead = lead_make()
    response = client.get(_url(lead))
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/copies/new/%3Ftrader%3D{lead.pk}"


def test_wizard_without_a_trader_goes_to_the_directory(client, follower):
    response = client.get("/copies/new/")
    assert response.status_code == 302 and response["Location"] == reverse("trader_list")


def test_wizard_for_an_unknown_trader_is_404(client, follower):
    assert client.get("/copies/new/?trader=999999").status_code == 404
    assert client.get("/copies/new/?trader=abc").status_code == 404


def test_profile_copy_button_opens_the_wizard(client, btc):
    lead = lead_make()
    html = client.get(f"/traders/{lead.pk}/").content.decode()
    assert f'href="/copies/new/?trader={lead.pk}"' in html


def test_wizard_step_one_explains_smart_sync_and_shows_the_main_balance(client, follower, btc):
    lead = lead_make(nickname="Calm")
    html = client.get(_url(lead)).content.decode()
    assert "<strong>Smart Sync</strong> mirrors Calm's asset allocation" in html
    assert "5,000.00 USDT</strong> available" in html
    assert 'aria-current="step">Total Investment' in html
    assert "Copy Ongoing Positions" in html and "At least 100 USDT" in html
    assert "coming soon" not in html.lower()


# --- step 1 refusals, next to the field, typed value kept ---------------------------------
def test_wizard_refuses_50_next_to_the_field_and_keeps_it(client, follower, btc):
    lead = lead_make()
    response = _step1(client, lead, amount="50")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="field-total_investment"' in html
    field = _field(html, "total_investment")
    assert "The minimum Total Investment is 100.00 USDT." in field
    assert 'value="50"' in field and 'aria-invalid="true"' in field
    assert not Copy.objects.filter(follower=follower).exists()


def test_wizard_refuses_more_than_available_with_a_wallet_link(client, follower, btc):
    lead = lead_make()
    html = _step1(client, lead, amount="5,000.01").content.decode()
    assert (
        "Your main account has 5,000.00 USDT available; you asked to invest 5,000.01 USDT." in html
    )
    assert 'value="5,000.01"' in html
    try:
        assert f'href="{reverse("wallet")}">Add funds in your Wallet</a>' in html
    except NoReverseMatch:
        assert "Add funds to your main account" in html
    assert account_main(user=follower).balance == Decimal("5000")


def test_wizard_refuses_a_duplicate_at_step_one_keeping_the_amount(client, follower, btc):
    # given the wizard opened before a copy of this lead started in another tab
    lead = lead_make(nickname="Twin")
    page = client.get(_url(lead)).content.decode()
    copy_make(lead, follower=follower, investment="100")
    # when step 1 is sent
    data = {"step": "investment", "draft": _hidden(page, "draft"), "total_investment": "1,000.50"}
    html = client.post(_url(lead), data).content.decode()
    # then the refusal is on the form and the typed amount stays
    assert "You are already copying Twin. Change its Settings instead." in html
    assert 'value="1,000.50"' in html
    assert Copy.objects.filter(follower=follower).count() == 1


def test_wizard_says_you_cannot_copy_yourself(client, btc):
    lead = lead_make()
    client.force_login(lead.user)
    html = client.get(_url(lead)).content.decode()
    assert "You cannot copy yourself." in html
    assert 'name="total_investment"' not in html


def test_wizard_says_an_ended_lead_cannot_be_copied(client, follower, btc):
    lead = lead_make(nickname="Gone")
    lead_trader_end(lead=lead)
    html = client.get(_url(lead)).content.decode()
    assert "Gone has ended their strategy and cannot be copied." in html
    assert 'name="total_investment"' not in html


def test_wizard_says_a_full_lead_is_full(client, follower, btc):
    lead = lead_make(nickname="Busy")
    copy_make(lead)
    LeadTrader.objects.filter(pk=lead.pk).update(max_copiers=1)
    html = client.get(_url(lead)).content.decode()
    assert "Busy is full (1 copiers)." in html


def test_wizard_duplicate_links_to_the_existing_copy_settings(client, follower, btc):
    lead = lead_make(nickname="Twin")
    copy = copy_make(lead, follower=follower, investment="100")
    html = client.get(_url(lead)).content.decode()
    assert "You are already copying Twin. Change its Settings instead." in html
    assert f'href="/copies/{copy.pk}/settings/"' in html


def test_wizard_refuses_past_the_active_copies_limit(client, follower, btc, settings):
    settings.SMART_SYNC = {**settings.SMART_SYNC, "MAX_ACTIVE_COPIES": 1}
    copy_make(lead_make(), follower=follower, investment="100")
    html = client.get(_url(lead_make())).content.decode()
    assert "You already have 1 active copies, the most allowed. Stop one first." in html
    assert f'href="{reverse("my_copies")}"' in html


# --- the live preview ---------------------------------------------------------------------
def test_preview_shows_what_copy_ongoing_positions_opens(client, follower, lead_with_position):
    url = f"/copies/new/preview/?trader={lead_with_position.pk}&total_investment=1,000"
    html = client.get(url + "&copy_ongoing_positions=on", headers=HX).content.decode()
    # only the box's content: the box with its triggers stays on the page and is not resent
    assert "<html" not in html and 'id="ongoing-preview"' not in html and "hx-trigger" not in html
    page = client.get(f"/copies/new/?trader={lead_with_position.pk}").content.decode()
    box = page[page.index('id="ongoing-preview"') :].split(">", 1)[0]
    assert 'hx-trigger="input changed delay:400ms' in box and "every 5s" in box
    assert 'hx-swap="innerHTML"' in box
    assert "What opens now with 1,000.00 USDT" in html
    assert "BTC-USDT-SWAP" in html and ">5x<" in html
    assert '<td class="num" data-label="Contracts">1.00</td>' in html
    assert '<td class="num" data-label="Margin (USDT)">100.00</td>' in html
    assert '<td class="num" data-label="Opening fee (USDT)">0.2500</td>' in html
    assert "Why this size" in html
    assert "Size: about 100.025 USDT × 5x ÷ (50,000.00 USDT × 0.01 BTC per contract)" in html
    # the same positions, said as what would open, when the option is off
    off = client.get(url, headers=HX).content.decode()
    assert "With Copy Ongoing Positions on, 1,000.00 USDT would open" in off


def test_preview_waits_for_a_valid_amount(client, follower, lead_with_position):
    html = client.get(
        f"/copies/new/preview/?trader={lead_with_position.pk}&total_investment=50"
    ).content.decode()
    assert "Type a Total Investment of at least 100 USDT" in html
    assert "BTC-USDT-SWAP" not in html


# --- step 2: Total Stop Loss for Trader ----------------------------------------------------
def test_wizard_stop_loss_step_shows_the_trigger_level_of_a_percentage(client, follower, btc):
    lead = lead_make()
    r1 = _step1(client, lead, amount="1000", ongoing=False)
    html1 = r1.content.decode()
    assert 'aria-current="step">Total Stop Loss for Trader' in html1
    assert "Total Investment 1,000.00 USDT · Copy Ongoing Positions off" in html1
    # the live line for 15 % of 1,000
    level = client.get(
        "/copies/stop-loss-level/",
        {
            "trader": lead.pk,
            "draft": _hidden(html1, "draft"),
            "total_stop_loss": "15",
            "stop_loss_unit": "percent",
        },
        headers=HX,
    ).content.decode()
    assert "<html" not in level
    assert "PnL reaches <strong>−150.00 USDT</strong>" in level
    assert "equity falls to <strong>850.00 USDT</strong>" in level


def test_wizard_refuses_a_stop_loss_not_below_the_investment(client, follower, btc):
    lead = lead_make()
    r1 = _step1(client, lead, amount="1000", ongoing=False)
    html = _step2(client, lead, r1.content.decode(), value="1000").content.decode()
    field = _field(html, "total_stop_loss")
    assert (
        "Total Stop Loss for Trader must be more than 0 and less than your total investment "
        "(1,000.00 USDT)." in field
    )
    assert 'value="1000"' in field
    pct = _step2(client, lead, r1.content.decode(), value="100", unit="percent").content.decode()
    assert "must be more than 0 and less than 100" in pct


def test_wizard_back_from_step_two_keeps_the_investment(client, follower, btc):
    lead = lead_make()
    r1 = _step1(client, lead, amount="2,500", ongoing=True)
    data = {
        "step": "stop_loss",
        "draft": _hidden(r1.content.decode(), "draft"),
        "total_stop_loss": "300",
        "stop_loss_unit": "usdt",
        "stop_loss_action": "keep",
        "back": "1",
    }
    html = client.post(_url(lead), data).content.decode()
    assert 'aria-current="step">Total Investment' in html
    assert 'value="2,500"' in html
    assert 'name="copy_ongoing_positions" id="id_copy_ongoing_positions" checked' in html


# --- review and confirm -------------------------------------------------------------------
def test_wizard_review_says_what_happens_to_the_money(client, follower, lead_with_position):
    html = _review(client, lead_with_position, "1000", True, "15", "percent", "keep")
    assert 'aria-current="step">Review and confirm' in html
    assert "1,000.00 USDT moves from your main account" in html
    assert "has 5,000.00 USDT available and keeps 4,000.00 USDT" in html
    assert "1 of Whale's 1 open position opens now at market" in html
    assert "using 100.00 USDT margin and 0.2500 USDT in opening fees" in html
    assert "899.75 USDT stays free" in html
    assert "Total Stop Loss for Trader 150.00 USDT:" in html
    assert "reaches −150.00 USDT, i.e. its equity falls to 850.00 USDT" in html
    assert "keep positions and follow the lead&#x27;s closes" in html
    assert "Profit share 10%" in html
    assert Copy.objects.filter(follower=follower).count() == 0  # nothing happened yet


def test_wizard_confirm_starts_the_copy_as_reviewed(client, follower, lead_with_position):
    html = _review(client, lead_with_position, "1,000", True, "15", "percent", "keep")
    response = _confirm(client, lead_with_position, html)
    copy = Copy.objects.get(follower=follower)
    assert response.status_code == 302
    assert response["Location"] == f"/copies/{copy.pk}/"
    assert copy.total_investment == Decimal("1000")
    assert copy.total_stop_loss == Decimal("150")
    assert copy.stop_loss_action == "keep" and copy.copy_ongoing_positions
    assert account_main(user=follower).balance == Decimal("4000")
    pos = Position.objects.get(account=copy.account)
    assert (pos.size, pos.margin, pos.fees) == (Decimal("1"), Decimal("100"), Decimal("0.25"))
    page = client.get(response["Location"]).content.decode()
    assert "You are now copying Whale with 1,000.00 USDT." in page


def test_wizard_double_submit_starts_one_copy(client, follower, lead_with_position):
    html = _review(client, lead_with_position)
    first = _confirm(client, lead_with_position, html)
    second = _confirm(client, lead_with_position, html)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Copy.objects.filter(follower=follower).count() == 1
    assert account_main(user=follower).balance == Decimal("4000")


def test_wizard_confirm_refused_when_the_money_left_meanwhile(client, follower, btc):
    # given a review of 1,000, then the main account spends 4,500 on another copy
    lead = lead_make()
    html = _review(client, lead, "1000", False)
    copy_make(lead_make(), follower=follower, investment="4500")
    # when confirming, the service refuses and the review says why; nothing moved
    response = _confirm(client, lead, html)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Your main account has 500.00 USDT available; you asked to invest 1,000.00 USDT." in page
    assert not Copy.objects.filter(follower=follower, lead=lead).exists()
    assert account_main(user=follower).balance == Decimal("500")


def test_wizard_with_a_tampered_draft_starts_again(client, follower, btc):
    lead = lead_make()
    html = _review(client, lead)
    data = {
        "step": "review",
        "draft": _hidden(html, "draft") + "x",
        "idempotency_key": _hidden(html, "idempotency_key"),
    }
    page = client.post(_url(lead), data).content.decode()
    assert "That form was out of date" in page
    assert 'aria-current="step">Total Investment' in page
    assert not Copy.objects.filter(follower=follower).exists()


# --- htmx ---------------------------------------------------------------------------------
def test_wizard_htmx_steps_answer_the_wizard_partial(client, follower, btc):
    lead = lead_make()
    page = client.get(_url(lead)).content.decode()
    data = {"step": "investment", "draft": _hidden(page, "draft"), "total_investment": "50"}
    response = client.post(_url(lead), data, headers=HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<div id="wizard"')
    assert "The minimum Total Investment is 100.00 USDT." in html


def test_wizard_htmx_confirm_redirects_the_browser(client, follower, btc):
    lead = lead_make()
    html = _review(client, lead, "100", False)
    response = _confirm(client, lead, html, headers=HX)
    copy = Copy.objects.get(follower=follower)
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/copies/{copy.pk}/"
