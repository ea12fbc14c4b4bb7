"""Risk and fees on the follower pages (issue 8, "On the pages"): liquidation price and margin
level per position, the Total Stop Loss for Trader state and trigger on My Copies and Copy Trade
Details, a handed-over position and its close, funding per position and per copy, profit share
paid / pending / owed, and the settlements on Copy Trade Details.

Figures are hand calculations from SPEC §4, §7 and §8 (BTC-USDT-SWAP: contract value 0.01 BTC,
MMR 0.004, taker fee 0.0005), written out beside each assertion. The lead (10,000 equity) opens
1,000 margin 5x long at 50,000: a 1,000 copy holds 1 contract with margin 100 (open fee 0.25).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal as D
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.copies.models import Copy
from apps.copies.risk import risk_pass
from apps.copies.services import copy_stop
from apps.fees.models import ProfitShareSettlement
from apps.fees.services import funding_settle, funding_slot, profit_share_settle_active
from apps.ledger.services import account_main
from apps.positions.models import Position
from apps.traders.services import lead_position_close, lead_position_open
from tests.factories.trading import copy_make, follower_make, lead_make, set_price
from tests.fees.conftest import backdate_positions, book_realized, open_direct

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true"}


def _open(lead, *, mode="isolated", margin="1000", side="long", leverage=5):
    return lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side=side,
        margin_mode=mode,
        leverage=leverage,
        margin=margin,
    )


def _cell(html: str, label: str, after: str = "") -> str:
    """The inside of the first <td data-label="label"> (after ``after``, if given)."""
    start = html.index(after) if after else 0
    m = re.compile(rf'<td[^>]*data-label="{re.escape(label)}">(.*?)</td>', re.S).search(html, start)
    assert m, f"no cell {label!r}"
    return m.group(1)


def _text(fragment: str) -> str:
    """What a person reads: tags become spaces (a fragment may start inside a tag)."""
    text = re.sub(
        r"<[^>]+>", " ", fragment.split(">", 1)[1] if fragment.startswith("id=") else fragment
    )
    text = re.sub(r"\s+", " ", text)
    return unescape(re.sub(r"\( ", "(", re.sub(r" ([.,;:)])", r"\1", text)).strip())


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def _key(html: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)


# --- liquidation price and margin level ----------------------------------------------------------
def test_spec_4_reference_position_shows_its_liquidation_price_and_margin_level(
    client, btc, mirror
):
    # given the follower's copy of a 5x isolated long: 1 contract at 50,000 with 100 margin
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000")
    mirror(_open, lead)
    client.force_login(copy.follower)
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    # then the liquidation price is SPEC §4's reference: 400 / 0.009955 = 40,180.81366.. -> up
    assert _text(_cell(html, "Liquidation price (USDT)")) == "40,180.8137"
    # and the margin level at 50,000 = (100 + 0) / (0.01 x 50,000 x (0.004 + 0.0005))
    # = 100 / 2.25 = 44.444.. = 4,444.44%
    assert _text(_cell(html, "Margin level")) == "4,444.44%"
    assert "Close to liquidation" not in html
    # what 100% means, in words next to the table and on the column
    assert "falls to <strong>100% or below</strong>: at its <strong>liquidation price" in html
    assert '<abbr title="(margin + unrealized PnL) ÷ maintenance margin; at 100% or below' in html


def test_the_live_positions_partial_follows_the_price_and_warns_near_liquidation(
    client, btc, mirror
):
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000")
    mirror(_open, lead)
    client.force_login(copy.follower)
    url = f"/copies/{copy.pk}/live/positions/"
    # at 45,000: (100 + 0.01 x -5,000) / (0.01 x 45,000 x 0.0045) = 50 / 2.025 = 24.6913.. (the
    # liquidation price does not move with the mark)
    set_price("BTC-USDT-SWAP", "45000")
    html = client.get(url, headers=HX).content.decode()
    assert html.lstrip().startswith('<div id="open-positions"') and "<html" not in html
    assert 'hx-trigger="every 5s"' in html
    assert _text(_cell(html, "Margin level")) == "2,469.13%"
    assert _text(_cell(html, "Liquidation price (USDT)")) == "40,180.8137"
    assert "Close to liquidation" not in html
    # at 40,300 (above 40,180.8137: still open): (100 - 97) / (0.01 x 40,300 x 0.0045)
    # = 3 / 1.8135 = 1.65425.. = 165.42%: at or below 200%, said in words, not only colour
    set_price("BTC-USDT-SWAP", "40300")
    html = client.get(url, headers=HX).content.decode()
    assert _text(_cell(html, "Margin level")) == "165.42% Close to liquidation"


def test_a_cross_position_shows_the_copys_level_and_why_it_has_no_price(client, btc, mirror):
    # given a cross copy: balance 1,000 - 0.25 = 999.75, 1 contract long from 50,000
    lead = lead_make(equity="10000")
    copy = copy_make(lead, investment="1000")
    mirror(_open, lead, mode="cross")
    set_price("BTC-USDT-SWAP", "52000")
    client.force_login(copy.follower)
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    # cross level = (999.75 + 20) / (0.01 x 52,000 x 0.0045) = 1,019.75 / 2.34 = 435.7905..
    assert _text(_cell(html, "Margin level")) == "43,579.05% whole account (cross)"
    # 999.75 + 0.01 x (P - 50,000) = 0.000045 x P has no positive P: never liquidated
    assert _text(_cell(html, "Liquidation price (USDT)")) == (
        "— the account's cash covers any fall"
    )


# --- Total Stop Loss for Trader -----------------------------------------------------------------
def _triggered(action, mirror, *, price="35000"):
    """SPEC §7: investment 1,000, stop loss 150, the cross 1 contract at mark 35,000 -> PnL
    -150 - 0.25 fee = -150.25 triggers it."""
    lead = lead_make(equity="10000", nickname="Whale")
    follower = follower_make("1000")
    copy = copy_make(
        lead, follower=follower, investment="1000", total_stop_loss="150", stop_loss_action=action
    )
    lead_pos = mirror(_open, lead, mode="cross")
    set_price("BTC-USDT-SWAP", price)
    risk_pass(instrument_ids=None)
    copy.refresh_from_db()
    return lead, copy, lead_pos


def test_keep_shows_stopping_with_its_pnl_on_details_and_my_copies(client, btc, mirror):
    lead, copy, lead_pos = _triggered("keep", mirror)
    assert copy.is_stopping
    client.force_login(copy.follower)
    when = timezone.localtime(copy.stop_loss_triggered_at).strftime("%-d %b %Y, %H:%M")
    # Copy Trade Details: the state in words, with the PnL it saw and what happens next
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    state = _text(html[html.index('id="copy-state"') :][:1200])
    assert (
        f"Stopping: Total Stop Loss for Trader triggered on {when} at PnL -150.25 USDT "
        "(your stop loss: 150.00 USDT); open positions follow the lead's closes." in state
    )
    assert "No new positions open." in state
    assert '<span class="pill pill-stopping">Stopping</span>' in html
    figures = _text(html[html.index('id="copy-stop-loss"') :][:600])
    assert f"150.00 USDT Triggered {when} at PnL -150.25 USDT" in figures
    # the live figures partial carries the state too (a trigger shows without a reload)
    part = client.get(f"/copies/{copy.pk}/live/figures/", headers=HX).content.decode()
    assert part.lstrip().startswith('<div id="copy-figures"') and "Stopping:" in part
    # My Copies: the pill and the same sentence under the row
    mine = client.get("/copies/").content.decode()
    assert '<span class="pill pill-stopping">Stopping</span>' in mine
    row = _text(mine[mine.index(f'id="copy-{copy.pk}-state"') :][:800])
    assert row.startswith(
        f"Stopping: Total Stop Loss for Trader triggered on {when} at PnL -150.25 USDT "
        "(your stop loss: 150.00 USDT); open positions follow the lead's closes."
    )
    # when the lead closes, the copy follows and stops: 849.575 returned (SPEC §7), and its
    # page says why it stopped, at which PnL
    mirror(lead_position_close, lead=lead, position=lead_pos.pk, fraction="1")
    risk_pass(instrument_ids=None)
    copy.refresh_from_db()
    assert copy.status == "stopped"
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    state = _text(html[html.index('id="copy-state"') :][:1200])
    assert "(total stop loss for trader triggered): 849.57 USDT returned to your main" in state
    assert f"triggered on {when} at PnL -150.25 USDT (your stop loss: 150.00 USDT)." in state
    history = client.get("/copies/?tab=history").content.decode()
    assert "Total Stop Loss for Trader triggered at PnL" in history
    assert '<span class="neg">-150.25</span> USDT' in history


def test_close_all_shows_the_stopped_copy_and_its_trigger(client, btc, mirror):
    _, copy, _ = _triggered("close_all", mirror)
    assert copy.status == "stopped"
    client.force_login(copy.follower)
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    state = _text(html[html.index('id="copy-state"') :][:1200])
    assert "849.57 USDT returned to your main account" in state
    assert "at PnL -150.25 USDT (your stop loss: 150.00 USDT); every open position was " in state
    assert "hx-trigger" not in html  # a stopped copy does not poll


def test_a_handed_over_position_says_so_and_its_close_stops_the_copy(client, btc, mirror):
    lead, copy, lead_pos = _triggered("hand_over", mirror)
    pos = Position.objects.get(account=copy.account)
    assert pos.handed_over and copy.is_stopping
    client.force_login(copy.follower)
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    assert "open positions are yours to close." in _text(html[html.index('id="copy-state"') :])
    note = _text(html[html.index(f'id="handed-over-{pos.pk}"') :][:600])
    assert note.startswith(
        "Handed over to you Total Stop Loss for Trader handed this position over to you: "
        "Whale's closes no longer apply to it."
    )
    close_url = f"/copies/{copy.pk}/positions/{pos.pk}/close/"
    assert f'<a href="{close_url}">close it at market</a>' in html
    # the lead's close no longer touches it
    mirror(lead_position_close, lead=lead, position=lead_pos.pk, fraction="1")
    assert Position.objects.get(pk=pos.pk).status == "open"
    # the confirmation: the last position of a stopping copy -> the copy stops; at 35,000 the
    # close realizes -150 with a 0.175 fee: 999.75 - 150 - 0.175 = 849.575 returns
    page = client.get(close_url).content.decode()
    assert "It is the last open position of this copy, so the copy stops." in page
    assert "about 849.57 USDT returns to your main account" in page
    assert "It was handed over to you" in page
    response = client.post(close_url, {"idempotency_key": _key(page)})
    assert response.status_code == 302
    copy.refresh_from_db()
    assert (copy.status, copy.stop_reason) == ("stopped", "stop_loss")
    assert account_main(user=copy.follower).balance == D("849.575")


def test_an_active_copy_states_its_stop_loss_level_on_my_copies(client, btc):
    copy = copy_make(lead_make(), investment="1000", total_stop_loss="150")
    client.force_login(copy.follower)
    html = client.get("/copies/").content.decode()
    assert _text(_cell(html, "Status")) == "Active stop loss at PnL −150.00"


# --- funding ------------------------------------------------------------------------------------
def test_funding_per_position_and_for_the_copy(client, btc, mirror):
    # given the follower's 1 contract long and, from a second lead, 2 contracts short
    # (2,000 margin 5x of 10,000 -> 20% of 1,000 = 200 margin -> 2 contracts)
    lead = lead_make(equity="10000")
    follower = follower_make("2000")
    copy = copy_make(lead, follower=follower, investment="1000")
    mirror(_open, lead, mode="cross")
    mirror(_open, lead, mode="isolated", side="short", margin="2000")
    long = Position.objects.get(account=copy.account, side="long")
    short = Position.objects.get(account=copy.account, side="short")
    assert (long.size, short.size) == (D("1"), D("2"))
    # when a funding round settles at 50,000 with the default rate 0.0001
    slot = funding_slot()
    backdate_positions(slot)
    funding_settle(slot=slot)
    # then 1 x 0.01 x 50,000 x 0.0001 = 0.05 paid by the long, 0.10 received by the short
    client.force_login(follower)
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    rows = re.findall(r'<td class="num" data-label="Funding \(USDT\)">(.*?)</td>', html, re.S)
    # newest first: the short, then the long
    assert [_text(r) for r in rows] == ["+0.10 received", "-0.05 paid"]
    assert '<span class="neg">-0.05</span> <span class="funding-word">paid</span>' in html
    # the copy: +0.10 - 0.05 = +0.05 received, and in the realized PnL:
    # -0.25 - 0.50 open fees + 0.05 = -0.70
    figures = _text(html[html.index('id="copy-funding"') :][:400])
    assert figures.startswith("Funding paid/received +0.05 USDT received")
    assert "Realized PnL -0.70 USDT" in _text(html)
    # when the lead closes the long, the history row keeps its funding
    mirror(lead_position_close, lead=lead, position=long.lead_position_id, fraction="1")
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    history = html[html.index('id="history"') :]
    assert _text(_cell(history, "Funding (USDT)")) == "-0.05 paid"


# --- profit share -------------------------------------------------------------------------------
def _weekly(week: int) -> int:
    return profit_share_settle_active(trigger="weekly", now=timezone.now() + timedelta(weeks=week))


def test_profit_share_paid_pending_owed_and_the_settlement_row(client, btc):
    # given a 10% copy of 1,000 that realized +200 (R = 200, H = 0) and put 1,190 of its 1,200
    # into margin: its free cash is 10 when 10% x 200 = 20 is due
    lead = lead_make(ratio="0.10", nickname="Whale")
    copy = copy_make(lead, investment="1000")
    book_realized(copy, "200")
    open_direct(copy.account_id, size="1", margin="1190", leverage=1)
    # when the weekly settlement runs: 10 paid, 10 owed, the mark moves to 200
    _weekly(1)
    settlement = ProfitShareSettlement.objects.get(copy=copy)
    client.force_login(copy.follower)
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    # then Copy Trade Details: paid 10, pending = owed 10 + 10% x (200 - 200) = 10, owed 10
    share = _text(html[html.index('id="copy-profit-share"') :][:700])
    assert share.startswith(
        "Profit share (10%) paid 10.00 USDT pending 10.00 USDT (if settled now) "
        "owed 10.00 USDT of it: the copy's cash was short"
    )
    # and the settlement row: weekly, R +200.00, mark 0.00 -> 200.00, due 20, paid 10, owed 10
    row = html[html.index(f'id="settlement-{settlement.pk}"') :]
    row = row[: row.index("</tr>")]
    assert _text(_cell(row, "Settled")).startswith("Weekly ")
    assert _text(_cell(row, "Net realized PnL (USDT)")) == "+200.00"
    assert _text(_cell(row, "High-water mark (USDT)")) == "0.00 → 200.00"
    assert _text(_cell(row, "Due (USDT)")) == "20.00"
    assert _text(_cell(row, "Paid (USDT)")) == "10.00"
    assert _text(_cell(row, "Owed after (USDT)")) == "10.00"
    assert _text(_cell(row, "Written off (USDT)")) == "0.00"
    # My Copies: the same three figures, and the owed amount in words
    mine = client.get("/copies/").content.decode()
    cell = _text(_cell(mine, "Profit share (USDT)"))
    assert cell == "paid 10.00 pending 10.00 owed 10.00"
    assert (
        "Profit share owed 10.00 USDT: the copy's cash was short at a settlement; it is paid "
        "first at the next one." in _text(mine)
    )


def test_a_stop_writes_off_what_the_cash_cannot_pay_and_the_page_says_so(client, btc):
    # given a 100 copy that realized +200 and holds 0.59 contract (295 margin, 1x): free cash
    # 5 when 20 is due -> paid 5, owed 15
    lead = lead_make(ratio="0.10")
    copy = copy_make(lead, investment="100")
    book_realized(copy, "200")
    open_direct(copy.account_id, size="0.59", margin="295", leverage=1)
    _weekly(1)
    # when BTC falls to 1,000 and the follower stops: the close leaves
    # 295 - 0.59 x 0.01 x 49,000 - 0.59 x 0.01 x 1,000 x 0.0005 = 5.89705 to pay the 15 owed
    set_price("BTC-USDT-SWAP", "1000")
    copy_stop(copy=copy, user=copy.follower)
    stop = ProfitShareSettlement.objects.get(copy=copy, trigger="stop")
    client.force_login(copy.follower)
    html = client.get(f"/copies/{copy.pk}/").content.decode()
    row = html[html.index(f'id="settlement-{stop.pk}"') :]
    row = row[: row.index("</tr>")]
    assert _text(_cell(row, "Settled")).startswith("Copy stopped ")
    assert _text(_cell(row, "Due (USDT)")) == "15.00"
    assert _text(_cell(row, "Paid (USDT)")) == "5.89"
    assert _text(_cell(row, "Owed after (USDT)")) == "0.00"
    assert _text(_cell(row, "Written off (USDT)")) == "9.10"  # 15 - 5.89705 = 9.10295
    # paid in total 5 + 5.89705; a stopped copy has nothing pending or owed
    share = _text(html[html.index('id="copy-profit-share"') :][:300])
    assert share.startswith("Profit share (10%) paid 10.89 USDT")
    assert "pending" not in share and "owed" not in share


def test_settlements_are_paged_and_the_page_costs_the_same_queries(client, btc, mirror):
    # given a copy with an open position, one settlement and one closed position, then 14 more
    # settlements (two pages of 10) and 9 more open positions
    lead = lead_make(equity="2000000")
    copy = copy_make(lead, investment="1000")
    client.force_login(copy.follower)
    mirror(_open, lead)
    _weekly(1)
    url = f"/copies/{copy.pk}/"
    few = _queries(client, url)
    for week in range(2, 16):
        _weekly(week)
    for _ in range(9):
        mirror(_open, lead)
    assert ProfitShareSettlement.objects.filter(copy=copy).count() == 15
    assert Position.objects.filter(account=copy.account, status="open").count() == 10
    assert _queries(client, url) == few
    html = client.get(url).content.decode()
    assert html.count('id="settlement-') == 10 and "Page 1 of 2" in html
    assert 'href="?settlements=2#settlements"' in html
    assert client.get(url + "?settlements=2").content.decode().count('id="settlement-') == 5
    # every open position shows its figures (1,000 margin of 2,000,000: a bumped 0.01 contract)
    assert html.count('data-label="Margin level"') == 10


def test_my_copies_with_stopping_and_owing_copies_costs_the_same_queries(client, btc, mirror):
    follower = follower_make("20000")
    client.force_login(follower)
    copy_make(lead_make(), follower=follower, investment="1000")
    few = _queries(client, "/copies/")
    for _ in range(6):
        lead = lead_make(equity="10000")
        copy_make(
            lead,
            follower=follower,
            investment="1000",
            total_stop_loss="150",
            stop_loss_action="keep",
        )
        mirror(_open, lead, mode="cross")
    set_price("BTC-USDT-SWAP", "35000")
    risk_pass(instrument_ids=None)
    assert Copy.objects.filter(follower=follower, stop_loss_triggered_at__isnull=False).count() == 6
    html = client.get("/copies/").content.decode()
    assert html.count('<span class="pill pill-stopping">Stopping</span>') == 6
    assert _queries(client, "/copies/") == few
