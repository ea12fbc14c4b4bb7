"""The wallet page (/wallet/): main balance and available, money in copies (each copy named and
linked), money in lead accounts, every movement in plain words with its sign, paginated, and a
constant number of queries whatever the number of movements or copies.

Figures are hand calculations (SPEC §5.2 worked example): a copy of 1,000 mirrors a lead's
1,000-of-10,000 BTC open at 50,000, 5x: 1 contract, margin 100, fee 0.25, so the copy account
holds 999.75.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from apps.ledger.services import deposit_credit
from apps.traders.services import lead_position_open
from tests.factories.ledger import user_make, user_with_main_balance
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def btc():
    set_price("BTC-USDT-SWAP", "50000")


def _open(lead, capture):
    with capture(execute=True):
        lead_position_open(
            lead=lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="cross",
            leverage=5,
            margin="1000",
        )


def _rows(html: str) -> list[tuple[str, str, str]]:
    """The statement as (what happened, account, amount) per row, newest entry first."""
    statement = html[html.index('id="statement"') :]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", statement, re.S)[1:]:
        what = re.search(r'data-label="What happened"><div><strong>(.*?)</strong>', tr).group(1)
        account = re.sub(r"<[^>]+>", "", re.search(r'data-label="Account">(.*?)</td>', tr).group(1))
        amount = re.search(r'data-label="Amount \(USDT\)">([^<]*)<', tr).group(1)
        rows.append((what, account.strip(), amount))
    return rows


def test_wallet_needs_login(client):
    response = client.get("/wallet/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_new_user_sees_an_empty_wallet_and_how_money_gets_in(client):
    client.force_login(user_make())
    response = client.get("/wallet/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<title>Wallet · Smart Sync</title>" in html
    assert "Balance</dt><dd>0.00 USDT" in html and "Available</dt><dd>0.00 USDT" in html
    assert "Deposits are credited by our operators" in html
    assert "You are not copying anyone" in html and "No movements yet" in html
    assert "Money in lead accounts" not in html  # not a lead
    assert "<form" not in html.split('id="main"')[1]  # no money-moving form on this page


def test_wallet_shows_main_copies_and_movements_in_words(
    client, btc, django_capture_on_commit_callbacks
):
    # given: a follower with 5,000 deposited copies a lead with 1,000, and the lead trades
    lead = lead_make(nickname="AlphaWhale")
    follower = user_with_main_balance("5000")
    copy = copy_make(lead, investment="1000", follower=follower)
    _open(lead, django_capture_on_commit_callbacks)
    client.force_login(follower)
    # when
    html = client.get("/wallet/").content.decode()
    # then: the money by place
    assert "Balance</dt><dd>4,000.00 USDT" in html
    assert "Available</dt><dd>4,000.00 USDT" in html
    copies = html[html.index('id="in-copies"') : html.index('id="statement"')]
    assert "999.75 USDT" in copies  # in copies: 1,000 - 0.25 fee
    assert "AlphaWhale" in copies
    assert 'data-label="Total Investment (USDT)">1,000.00<' in copies
    assert 'data-label="In the copy account (USDT)">999.75<' in copies
    assert 'data-label="Margin in use (USDT)">100.00<' in copies
    try:
        detail = reverse("copy_detail", args=[copy.pk])
    except NoReverseMatch:  # the follower pages land separately; the name shows unlinked
        detail = None
    if detail:
        assert f'href="{detail}"' in copies
    # and every movement in words, signed, newest first
    assert _rows(html) == [
        ("Trading fee", "Copy of AlphaWhale", "-0.25"),
        ("Copy funded", "Main account", "-1,000.00"),
        ("Copy funded", "Copy of AlphaWhale", "+1,000.00"),
        ("Deposit", "Main account", "+5,000.00"),
    ]
    assert "credited by our operators" in html
    assert 'class="num s-amount neg"' in html and 'class="num s-amount pos"' in html


def test_a_lead_sees_the_money_in_lead_accounts_and_the_transfers(client, btc):
    lead = lead_make(equity="10000")
    deposit_credit(user=lead.user, amount=Decimal("250.5"), key="extra")
    client.force_login(lead.user)
    html = client.get("/wallet/").content.decode()
    lead_block = html[html.index('id="in-lead"') : html.index('id="statement"')]
    assert "10,000.00 USDT" in lead_block
    assert 'href="/lead/"' in lead_block
    assert "Balance</dt><dd>250.50 USDT" in html
    assert _rows(html) == [
        ("Deposit", "Main account", "+250.50"),
        ("Transfer to your lead futures account", "Main account", "-10,000.00"),
        ("Transfer from your main account", "Lead futures account", "+10,000.00"),
        ("Deposit", "Main account", "+10,000.00"),
    ]


def test_small_amounts_are_shown_as_booked(client, btc):
    user = user_with_main_balance("0.00025")
    client.force_login(user)
    assert _rows(client.get("/wallet/").content.decode()) == [
        ("Deposit", "Main account", "+0.00025")
    ]


def test_movements_are_paginated_and_htmx_swaps_only_the_statement(client):
    user = user_make()
    for n in range(30):
        deposit_credit(user=user, amount=Decimal(n + 1), key=f"d{n}")
    client.force_login(user)
    first = client.get("/wallet/").content.decode()
    assert len(_rows(first)) == 25 and _rows(first)[0][2] == "+30.00"
    assert "Page 1 of 2" in first and "30 in total" in first
    assert 'hx-get="?page=2"' in first and 'href="?page=2"' in first
    partial = client.get("/wallet/?page=2", **HTMX).content.decode()
    assert partial.lstrip().startswith('<section class="card" id="statement"')
    assert "<html" not in partial
    assert [r[2] for r in _rows(partial)] == ["+5.00", "+4.00", "+3.00", "+2.00", "+1.00"]
    assert "Page 2 of 2" in partial


def _count(client, url="/wallet/") -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_wallet_queries_do_not_grow_with_movements_or_copies(
    client, btc, django_assert_max_num_queries
):
    # given: one copy and a few movements
    follower = user_with_main_balance("10000")
    copy_make(lead_make(), investment="100", follower=follower)
    client.force_login(follower)
    small = _count(client), _count(client, "/wallet/?page=2")
    # when: 6 copies of different leads and more than a page of movements
    for _ in range(5):
        copy_make(lead_make(), investment="100", follower=follower)
    for n in range(40):
        deposit_credit(user=follower, amount=Decimal("1"), key=f"q{n}")
    big = _count(client), _count(client, "/wallet/?page=2")
    # then
    assert big == small
    with django_assert_max_num_queries(12):
        client.get("/wallet/")
