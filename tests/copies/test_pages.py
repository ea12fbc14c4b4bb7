"""Follower pages: My Copies, Copy Trade Details (with closing one position), Settings
(Modify, Total Stop Loss for Trader, Stop copying). Figures are hand calculations from SPEC §4-§8.

The standard case: a follower copies 1,000 USDT; the lead (10,000 equity) opens 1,000 margin 5x
long cross on BTC at 50,000 -> the follower holds 1 contract (0.01 BTC), margin 100, open fee
0.25. At 52,000 its uPnL is 0.01 x 2,000 = +20.00; equity 1,000 - 0.25 + 20 = 1,019.75;
PnL +19.75 (+1.975 %, shown 1.97 %); available 1,000 - 0.25 - 100 = 899.75.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.copies.models import Copy, CopyEvent
from apps.copies.services import copy_stop
from apps.ledger.services import account_main
from apps.positions.models import Position
from apps.traders.services import lead_position_close, lead_position_open
from tests.factories.trading import copy_make, follower_make, lead_make, set_price

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}
BTC_LONG = {
    "instrument": "BTC-USDT-SWAP",
    "side": "long",
    "margin_mode": "cross",
    "leverage": 5,
    "margin": "1000",
}


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden {name} in the page"
    return match.group(1)


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.fixture
def setup(client, btc, mirror):
    """A follower copying 1,000 of a lead who opened the worked example; BTC now 52,000."""
    lead = lead_make(equity="10000", nickname="Whale")
    follower = follower_make("3000")
    copy = copy_make(lead, follower=follower, investment="1000")
    lead_pos = mirror(lead_position_open, lead=lead, **BTC_LONG)
    set_price("BTC-USDT-SWAP", "52000")
    client.force_login(follower)
    pos = Position.objects.get(account=copy.account)
    return {"lead": lead, "follower": follower, "copy": copy, "lead_pos": lead_pos, "pos": pos}


# --- login and ownership -----------------------------------------------------------------
PAGES = [
    "/copies/",
    "/copies/live/",
    "/copies/{copy}/",
    "/copies/{copy}/live/figures/",
    "/copies/{copy}/live/positions/",
    "/copies/{copy}/settings/",
    "/copies/{copy}/stop/",
    "/copies/{copy}/positions/{pos}/close/",
]


@pytest.mark.parametrize("path", PAGES)
def test_pages_send_anonymous_users_to_log_in(client, setup, path):
    client.logout()
    url = path.format(copy=setup["copy"].pk, pos=setup["pos"].pk)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize("path", [p for p in PAGES if "{copy}" in p])
def test_another_users_copy_is_404(client, setup, path):
    client.force_login(follower_make("100"))
    url = path.format(copy=setup["copy"].pk, pos=setup["pos"].pk)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/copies/{copy}/settings/investment/",
        "/copies/{copy}/settings/stop-loss/",
        "/copies/{copy}/stop/",
        "/copies/{copy}/positions/{pos}/close/",
    ],
)
def test_a_stranger_cannot_post_to_another_users_copy(client, setup, path):
    client.force_login(follower_make("100"))
    url = path.format(copy=setup["copy"].pk, pos=setup["pos"].pk)
    response = client.post(url, {"idempotency_key": "k1", "total_investment": "2000"})
    assert response.status_code == 404
    copy = Copy.objects.get(pk=setup["copy"].pk)
    assert copy.is_active and copy.total_investment == Decimal("1000")


# --- My Copies ------------------------------------------------------------------------------
def test_my_copies_shows_each_figure_of_an_ongoing_copy(client, setup):
    html = client.get("/copies/").content.decode()
    assert "<title>My Copies · Smart Sync</title>" in html
    assert 'aria-current="page">Ongoing <span class="count">(1)</span>' in html
    assert ">Whale</a>" in html and '<span class="pill pill-active">Active</span>' in html
    assert 'data-label="Total Investment (USDT)">1,000.00</td>' in html
    assert 'data-label="Equity (USDT)">1,019.75</td>' in html
    assert '<span class="pos">+19.75</span> (<span class="pos">+1.97%</span>)' in html
    assert 'Realized <span class="neg">-0.25</span>' in html
    assert 'Unrealized <span class="pos">+20.00</span>' in html
    assert 'data-label="Margin in use (USDT)">100.00</td>' in html
    assert 'data-label="Available (USDT)">899.75</td>' in html
    # profit share: nothing paid; R = -0.25 (the open fee) is below the mark 0: nothing pending
    cell = html[html.index('data-label="Profit share (USDT)"') :][:400]
    assert '<span class="nowrap">paid 0.00</span>' in cell and "pending 0.00" in cell
    assert "owed" not in cell
    # the stop loss level (none set) is stated with the status
    assert "no stop loss" in html
    assert f'href="/copies/{setup["copy"].pk}/settings/"' in html
    # refreshed live: only the table polls, and only while the tab is visible (data-poll)
    assert 'hx-get="/copies/live/?tab=ongoing" hx-trigger="every 5s"' in html
    assert "data-poll" in html


def test_my_copies_live_partial_follows_the_price(client, setup):
    set_price("BTC-USDT-SWAP", "49000")  # uPnL 0.01 x -1,000 = -10; equity 989.75
    response = client.get("/copies/live/?tab=ongoing", headers=HX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<div id="copies-table"')
    assert 'data-label="Equity (USDT)">989.75</td>' in html
    assert '<span class="neg">-10.25</span> (<span class="neg">-1.02%</span>)' in html


def test_my_copies_history_lists_stopped_copies_only(client, setup):
    other = copy_make(lead_make(nickname="Quiet"), follower=setup["follower"], investment="500")
    copy_stop(copy=other, user=setup["follower"])
    ongoing = client.get("/copies/").content.decode()
    history = client.get("/copies/?tab=history").content.decode()
    assert ">Whale</a>" in ongoing and ">Quiet</a>" not in ongoing
    assert ">Quiet</a>" in history and ">Whale</a>" not in history
    assert "Stopped by you" in history and "hx-trigger" not in history
    assert 'aria-current="page">History <span class="count">(1)</span>' in history


def test_my_copies_never_shows_another_users_copy(client, setup):
    stranger = follower_make("1000")
    copy_make(lead_make(nickname="Elsewhere"), follower=stranger, investment="500")
    assert "Elsewhere" not in client.get("/copies/").content.decode()


def test_my_copies_empty_state_points_to_the_traders(client, db):
    client.force_login(follower_make("100"))
    html = client.get("/copies/").content.decode()
    assert "You are not copying anyone yet." in html and 'href="/traders/"' in html


def test_my_copies_query_count_does_not_grow_with_copies(client, btc, settings):
    # given a follower with 2 ongoing copies, then with 20 (the most allowed), each holding a
    # mirrored position, and 30 stopped ones in History (more than one page)
    follower = follower_make("100000")
    client.force_login(follower)
    leads = [lead_make(equity="10000") for _ in range(20)]
    for lead in leads[:2]:
        copy_make(lead, follower=follower, investment="100")
    few_ongoing = _queries(client, "/copies/")
    few_live = _queries(client, "/copies/live/?tab=ongoing")
    for lead in leads[2:]:
        copy_make(lead, follower=follower, investment="100")
    for lead in leads[:3]:
        lead_position_open(lead=lead, **BTC_LONG)
    from apps.copies.mirroring import lead_event_mirror
    from apps.positions.models import LeadEvent

    for event_id in LeadEvent.objects.values_list("pk", flat=True):
        lead_event_mirror(event_id)
    assert Position.objects.filter(account__copy__follower=follower).count() == 3
    # then the pages cost the same number of queries
    assert _queries(client, "/copies/") == few_ongoing
    assert _queries(client, "/copies/live/?tab=ongoing") == few_live
    many_history_lead = leads[0]
    copy_stop(copy=Copy.objects.get(follower=follower, lead=many_history_lead), user=follower)
    copy_make(many_history_lead, follower=follower, investment="100")
    few_history = _queries(client, "/copies/?tab=history")
    for _ in range(29):
        copy = Copy.objects.filter(follower=follower, lead=many_history_lead).first()
        copy_stop(copy=copy, user=follower)
        copy_make(many_history_lead, follower=follower, investment="100")
    assert Copy.objects.filter(follower=follower, status="stopped").count() == 30
    assert _queries(client, "/copies/?tab=history") == few_history


# --- Copy Trade Details ----------------------------------------------------------------------
def test_copy_detail_shows_figures_and_the_open_position(client, setup):
    html = client.get(f"/copies/{setup['copy'].pk}/").content.decode()
    assert "<h1>Copy Trade Details</h1>" in html
    assert "<dt>Equity</dt><dd>1,019.75 USDT</dd>" in html
    assert '<span class="pos">+19.75 USDT</span>' in html
    assert "<dt>Margin in use</dt><dd>100.00 USDT</dd>" in html
    assert "<dt>Available</dt><dd>899.75 USDT" in html
    # the position: own and lead entry, size, margin, uPnL
    assert 'data-label="Size (contracts)">1.00</td>' in html
    assert (
        'data-label="Your entry (USDT)"><div class="cell">50,000.00'
        '<span class="sub muted nowrap">lead 50,000.00</span>' in html
    )
    assert 'data-label="Margin (USDT)">100.00</td>' in html
    assert '<span class="pos">+20.00</span>' in html


def test_copy_detail_explains_why_this_size_in_words(client, setup):
    html = client.get(f"/copies/{setup['copy'].pk}/").content.decode()
    assert "Why this size" in html and "hx-preserve" in html
    assert "Ratio: the lead put 10% of their equity into this position" in html
    assert "Base: your copy&#x27;s equity was 1,000.00 USDT when it was sized." in html
    assert "Target margin: 10% × 1,000.00 USDT = 100.00 USDT." in html
    assert (
        "Size: 100.00 USDT × 5x ÷ (50,000.00 USDT × 0.01 BTC per contract) = 1.00 contract, "
        "rounded down to the lot size: 1.00 contract." in html
    )
    assert (
        "Result: 1.00 contract at 50,000.00 USDT, margin 100.00 USDT, opening fee 0.25 USDT."
        in html
    )


def test_copy_detail_lists_a_missed_copy_with_its_reason(client, btc, mirror):
    # given a copy of 100 and a lead open too small to size: ratio 1 / 10,000 at 10x gives
    # 0.0002 contracts; the minimum 0.01 needs 0.5 margin, more than 10 x the 0.01 target
    lead = lead_make(equity="10000")
    follower = follower_make("100")
    copy = copy_make(lead, follower=follower, investment="100")
    mirror(lead_position_open, lead=lead, **{**BTC_LONG, "leverage": 10, "margin": "1"})
    client.force_login(follower)
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    assert "Open · BTC-USDT-SWAP long 10x" in html
    assert '<span class="pill pill-warn">Missed</span> below minimum size' in html
    assert "Missed: below minimum size." in html
    assert "Target margin: 0.01% × 100.00 USDT = 0.01 USDT." in html


def test_copy_detail_shows_position_history_and_investment_changes(client, setup, mirror):
    mirror(lead_position_close, lead=setup["lead"], position=setup["lead_pos"].pk, fraction="1")
    html = client.get(f"/copies/{setup['copy'].pk}/").content.decode()
    # closed at 52,000: realized +20.00, fees 0.25 + 0.26, net +19.49
    assert "1 closed" in html
    assert 'data-label="Exit (USDT)">52,000.00</td>' in html
    assert 'data-label="Realized PnL (USDT)"><span class="pos">+20.00</span>' in html
    assert 'data-label="Fees (USDT)">0.51</td>' in html
    assert 'data-label="Net (USDT)"><span class="pos">+19.49</span>' in html
    assert "Lead trader closed" in html
    assert "Copy started" in html and "+1,000.00 USDT" in html


def test_copy_detail_live_partials_answer_fragments(client, setup):
    copy = setup["copy"]
    figures = client.get(f"/copies/{copy.pk}/live/figures/", headers=HX).content.decode()
    positions = client.get(f"/copies/{copy.pk}/live/positions/", headers=HX).content.decode()
    assert figures.lstrip().startswith('<div id="copy-figures"') and "<html" not in figures
    assert "1,019.75 USDT" in figures and 'hx-trigger="every 5s"' in figures
    assert positions.lstrip().startswith('<div id="open-positions"')
    assert f'id="why-{setup["pos"].pk}"' in positions


def test_copy_detail_query_count_does_not_grow_with_positions(client, btc, mirror):
    # given a copy with 1 open position, 1 closed and 1 missed copy, then 25 of each
    # (lead equity 2,000,000; the copy's 1,000 makes every 1,000-margin open a bumped 0.01
    # contract, and a 0.05-margin 100x open far below the minimum size: missed)
    lead = lead_make(equity="2000000")
    follower = follower_make("1000")
    copy = copy_make(lead, follower=follower, investment="1000")
    client.force_login(follower)
    tiny = {**BTC_LONG, "leverage": 100, "margin": "0.05"}

    def add(opened, closed, missed):
        for _ in range(opened):
            mirror(lead_position_open, lead=lead, **BTC_LONG)
        for _ in range(closed):
            pos = mirror(lead_position_open, lead=lead, **BTC_LONG)
            mirror(lead_position_close, lead=lead, position=pos.pk, fraction="1")
        for _ in range(missed):
            mirror(lead_position_open, lead=lead, **tiny)

    add(1, 1, 1)
    url = f"/copies/{copy.pk}/"
    few = _queries(client, url)
    add(24, 24, 24)
    assert Position.objects.filter(account=copy.account, status="open").count() == 25
    assert CopyEvent.objects.filter(copy=copy, kind="missed").count() == 25
    # then the page (and its live parts) cost no more queries than with one position
    assert _queries(client, url) == few
    assert _queries(client, f"/copies/{copy.pk}/live/positions/") <= 8
    assert _queries(client, f"/copies/{copy.pk}/live/figures/") <= 8


# --- close one position --------------------------------------------------------------------
def test_close_confirmation_says_what_it_means(client, setup):
    url = f"/copies/{setup['copy'].pk}/positions/{setup['pos'].pk}/close/"
    html = client.get(url).content.decode()
    # at 52,000: realized +20.00, fee 0.01 x 52,000 x 0.0005 = 0.26, back to cash 119.74
    assert "Close BTC-USDT-SWAP long?" in html
    assert "<dt>Price now</dt><dd>52,000.00 USDT</dd>" in html
    assert '<span class="pos">+20.00 USDT</span>' in html
    assert "<dt>Closing fee</dt><dd>0.26 USDT</dd>" in html
    assert "About 119.74 USDT goes back to this copy's free cash" in html
    assert "Whale's later closes no longer apply to it." in html
    assert Position.objects.get(pk=setup["pos"].pk).status == "open"  # a GET changes nothing


def test_close_one_position_once_even_on_a_double_submit(client, setup, mirror):
    copy, pos = setup["copy"], setup["pos"]
    url = f"/copies/{copy.pk}/positions/{pos.pk}/close/"
    key = _hidden(client.get(url).content.decode(), "idempotency_key")
    first = client.post(url, {"idempotency_key": key})
    second = client.post(url, {"idempotency_key": key})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/copies/{copy.pk}/"
    pos.refresh_from_db()
    assert pos.status == "closed" and pos.close_reason == "manual"
    assert pos.realized_pnl == Decimal("20") and pos.fees == Decimal("0.51")
    assert CopyEvent.objects.filter(copy=copy, kind="manual_close").count() == 1
    # its funds stay in the copy: 1,000 - 0.25 + 20 - 0.26
    copy.account.refresh_from_db()
    assert copy.account.balance == Decimal("1019.49")
    assert account_main(user=setup["follower"]).balance == Decimal("2000")
    # and the lead's later close no longer applies to it
    mirror(lead_position_close, lead=setup["lead"], position=setup["lead_pos"].pk, fraction="1")
    copy.account.refresh_from_db()
    assert copy.account.balance == Decimal("1019.49")
    page = client.get(first["Location"]).content.decode()
    assert "Closed BTC-USDT-SWAP long at 52,000.00 USDT. Its funds stay in this copy." in page


def test_close_htmx_redirects_the_browser(client, setup):
    url = f"/copies/{setup['copy'].pk}/positions/{setup['pos'].pk}/close/"
    key = _hidden(client.get(url).content.decode(), "idempotency_key")
    response = client.post(url, {"idempotency_key": key}, headers=HX)
    assert response["HX-Redirect"] == f"/copies/{setup['copy'].pk}/"


def test_close_a_position_that_is_no_longer_open(client, setup, mirror):
    url = f"/copies/{setup['copy'].pk}/positions/{setup['pos'].pk}/close/"
    key = _hidden(client.get(url).content.decode(), "idempotency_key")
    mirror(lead_position_close, lead=setup["lead"], position=setup["lead_pos"].pk, fraction="1")
    response = client.post(url, {"idempotency_key": key})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "That position is no longer open: nothing was closed." in page
    assert client.get(url).status_code == 404


# --- Settings ------------------------------------------------------------------------------
def test_settings_shows_what_modify_allows(client, setup):
    html = client.get(f"/copies/{setup['copy'].pk}/settings/").content.decode()
    assert "<dt>Total Investment now</dt><dd>1,000.00 USDT</dd>" in html
    assert "<dt>Free to take out</dt><dd>899.75 USDT" in html
    assert "<dt>Main account available</dt><dd>2,000.00 USDT" in html
    # lowest: 1,000 - 899.75 = 100.25; highest: 1,000 + 2,000
    assert (
        "The new total, from 100.25 to 3,000.00 USDT (lower would take out more than the free"
        in html
    )
    assert "Stop copying" in html and f'href="/copies/{setup["copy"].pk}/stop/"' in html


def test_modify_increases_once_on_a_double_submit(client, setup):
    copy = setup["copy"]
    url = f"/copies/{copy.pk}/settings/"
    key = _hidden(client.get(url).content.decode(), "idempotency_key")
    post = f"/copies/{copy.pk}/settings/investment/"
    first = client.post(post, {"idempotency_key": key, "total_investment": "1,500"})
    second = client.post(post, {"idempotency_key": key, "total_investment": "1,500"})
    assert first.status_code == second.status_code == 302 and first["Location"] == url
    copy.refresh_from_db()
    assert copy.total_investment == Decimal("1500")
    assert account_main(user=setup["follower"]).balance == Decimal("1500")
    page = client.get(url).content.decode()
    assert "Total Investment increased to 1,500.00 USDT: 500.00 USDT moved from your main" in page


def test_modify_refuses_more_than_is_free_next_to_the_field(client, setup):
    copy = setup["copy"]
    key = _hidden(client.get(f"/copies/{copy.pk}/settings/").content.decode(), "idempotency_key")
    response = client.post(
        f"/copies/{copy.pk}/settings/investment/",
        {"idempotency_key": key, "total_investment": "100"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    field = html[html.index('id="field-total_investment"') :][:1800]
    assert (
        "Only 899.75 USDT of this copy is free (the rest is margin in use); you can decrease by "
        "at most that much." in field
    )
    assert 'value="100"' in field
    copy.refresh_from_db()
    assert copy.total_investment == Decimal("1000")


def test_modify_htmx_error_answers_the_form_partial(client, setup):
    copy = setup["copy"]
    key = _hidden(client.get(f"/copies/{copy.pk}/settings/").content.decode(), "idempotency_key")
    response = client.post(
        f"/copies/{copy.pk}/settings/investment/",
        {"idempotency_key": key, "total_investment": "99"},
        headers=HX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<form id="modify-form"') and "<html" not in html
    assert "The Total Investment must stay at least 100.00 USDT." in html


def test_modify_decrease_returns_free_cash(client, setup):
    copy = setup["copy"]
    key = _hidden(client.get(f"/copies/{copy.pk}/settings/").content.decode(), "idempotency_key")
    response = client.post(
        f"/copies/{copy.pk}/settings/investment/",
        {"idempotency_key": key, "total_investment": "600"},
        headers=HX,
    )
    assert response["HX-Redirect"] == f"/copies/{copy.pk}/settings/"
    assert account_main(user=setup["follower"]).balance == Decimal("2400")


@pytest.mark.parametrize(
    ("value", "unit", "saved"),
    [("150", "usdt", Decimal("150")), ("12.5", "percent", Decimal("125")), ("", "usdt", None)],
)
def test_stop_loss_save(client, setup, value, unit, saved):
    copy = setup["copy"]
    response = client.post(
        f"/copies/{copy.pk}/settings/stop-loss/",
        {"total_stop_loss": value, "stop_loss_unit": unit, "stop_loss_action": "hand_over"},
    )
    assert response.status_code == 302
    copy.refresh_from_db()
    assert copy.total_stop_loss == saved and copy.stop_loss_action == "hand_over"


def test_stop_loss_refusal_is_next_to_the_field(client, setup):
    copy = setup["copy"]
    response = client.post(
        f"/copies/{copy.pk}/settings/stop-loss/",
        {"total_stop_loss": "1,000", "stop_loss_unit": "usdt", "stop_loss_action": "keep"},
        headers=HX,
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="stop-loss-form"')
    field = html[html.index('id="field-total_stop_loss"') :][:1800]
    assert "must be more than 0 and less than your total investment (1,000.00 USDT)." in field
    assert 'value="1,000"' in field
    copy.refresh_from_db()
    assert copy.total_stop_loss is None


def test_settings_stop_loss_level_line(client, setup):
    html = client.get(
        "/copies/stop-loss-level/",
        {"copy": setup["copy"].pk, "total_stop_loss": "200", "stop_loss_unit": "usdt"},
        headers=HX,
    ).content.decode()
    assert "PnL reaches <strong>−200.00 USDT</strong>" in html
    assert "equity falls to <strong>800.00 USDT</strong>" in html and "(20.00% of" in html


# --- Stop copying --------------------------------------------------------------------------
def test_stop_confirmation_states_each_position_and_the_money(client, setup):
    html = client.get(f"/copies/{setup['copy'].pk}/stop/").content.decode()
    # close at 52,000: +20.00 - 0.26; R = -0.25 + 19.74 = 19.49; share 10 % = 1.949;
    # returned = 999.75 + 19.74 - 1.949 = 1,017.541
    assert "Each open position closes at market now" in html
    assert 'data-label="Price now (USDT)">52,000.00</td>' in html
    assert 'data-label="Closing fee (USDT)">0.26</td>' in html
    assert "about 1.94 USDT goes to Whale" in html
    assert "About 1,017.54 USDT returns to your main account." in html
    assert "Estimate at the current price" in html


def test_stop_copying_once_and_returns_what_was_estimated(client, setup):
    copy = setup["copy"]
    url = f"/copies/{copy.pk}/stop/"
    key = _hidden(client.get(url).content.decode(), "idempotency_key")
    first = client.post(url, {"idempotency_key": key})
    second = client.post(url, {"idempotency_key": key})
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"] == f"/copies/{copy.pk}/"
    copy.refresh_from_db()
    assert copy.status == "stopped"
    assert account_main(user=setup["follower"]).balance == Decimal("2000") + Decimal("1017.541")
    page = client.get(first["Location"]).content.decode()
    assert "You stopped copying Whale: 1,017.54 USDT returned to your main account." in page
    assert page.count("You stopped copying Whale") == 1
    assert "hx-trigger" not in page  # a stopped copy does not poll
    # the stopped copy's pages say so instead of offering actions
    assert "This copy has already stopped." in client.get(url).content.decode()
    assert "This copy has stopped" in client.get(f"/copies/{copy.pk}/settings/").content.decode()
