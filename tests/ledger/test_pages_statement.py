"""The wallet statement in plain words (apps.ledger.selectors.wallet_statement / _lines): every
kind of movement, booked by the real services where one exists, reads as a person would say it,
with the amount signed as the account saw it.

Hand calculation of the copy below (SPEC §4, §8): a copy of 1,000 mirrors 1 BTC contract at
50,000 (fee 0.25). At 51,000 the follower stops: realized 1 x 0.01 x 1,000 = +10, close fee
1 x 0.01 x 51,000 x 0.0005 = 0.255, so the close books +9.745. Net realized R = 10 - 0.25 -
0.255 = 9.495; profit share 10% = 0.9495 to the lead; 1,000 - 0.25 + 9.745 - 0.9495 =
1,008.5455 returns to the main account.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.copies.services import copy_investment_modify, copy_stop
from apps.ledger.models import Account, JournalEntry
from apps.ledger.selectors import wallet_statement, wallet_statement_lines
from apps.ledger.services import (
    account_main,
    account_system,
    ledger_post,
    ledger_reverse,
    withdrawal_record,
)
from apps.traders.services import lead_position_close, lead_position_open
from tests.factories.ledger import user_with_main_balance
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db


def _words(user) -> list[tuple[str, str, str, Decimal]]:
    lines = wallet_statement_lines(wallet_statement(user=user))
    return [(ln.what, ln.detail, ln.account_label, ln.amount) for ln in lines]


def test_a_copy_from_start_to_stop_with_profit_share(django_capture_on_commit_callbacks):
    # given
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(nickname="Whale", ratio="0.10")
    follower = user_with_main_balance("1000")
    copy = copy_make(lead, investment="1000", follower=follower)
    with django_capture_on_commit_callbacks(execute=True):
        lead_position_open(
            lead=lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="cross",
            leverage=5,
            margin="1000",
        )
    set_price("BTC-USDT-SWAP", "51000")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        copy_stop(copy=copy, user=follower)
    # then: the follower's statement, newest entry first, an entry's legs as booked
    words = _words(follower)
    assert [(w, a, amt) for w, _, a, amt in words] == [
        ("Returned from a copy", "Main account", Decimal("1008.5455")),
        ("Returned to your main account", "Copy account", Decimal("-1008.5455")),
        ("Profit share paid", "Copy account", Decimal("-0.9495")),
        ("Realized PnL", "Copy account", Decimal("9.745")),
        ("Trading fee", "Copy account", Decimal("-0.25")),
        ("Copy funded", "Main account", Decimal("-1000")),
        ("Copy funded", "Copy account", Decimal("1000")),
        ("Deposit", "Main account", Decimal("1000")),
    ]
    details = {w: d for w, d, _, _ in words}
    assert (
        details["Realized PnL"] == "positions closed when the copy stopped, after the trading fee"
    )
    assert details["Trading fee"] == "Smart Sync followed the lead trader"
    assert details["Returned from a copy"] == "the copy stopped"
    # every copy-account line names its copy, so the page can link it
    lines = wallet_statement_lines(wallet_statement(user=follower))
    assert {ln.copy_id for ln in lines if ln.account_kind == Account.Kind.COPY} == {copy.pk}
    # and the lead's: the profit share received, the open fee of the lead's own trade
    lead_words = _words(lead.user)
    assert lead_words[0] == (
        "Profit share received",
        "from a follower's copy",
        "Main account",
        Decimal("0.9495"),
    )
    assert ("Trading fee", "BTC-USDT-SWAP opened", "Lead futures account", Decimal("-2.5")) in (
        lead_words
    )


def test_modify_total_investment_up_and_down():
    set_price("BTC-USDT-SWAP", "50000")
    follower = user_with_main_balance("2000")
    copy = copy_make(lead_make(), investment="1000", follower=follower)
    copy_investment_modify(copy=copy, user=follower, total_investment="1500")
    copy_investment_modify(copy=copy, user=follower, total_investment="1200")
    words = _words(follower)[:4]
    assert [(w, a, amt) for w, _, a, amt in words] == [
        ("Total Investment decreased", "Main account", Decimal("300")),
        ("Total Investment decreased", "Copy account", Decimal("-300")),
        ("Total Investment increased", "Main account", Decimal("-500")),
        ("Total Investment increased", "Copy account", Decimal("500")),
    ]


def test_lead_close_reads_as_realized_pnl_of_that_instrument():
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make()
    pos = lead_position_open(
        lead=lead,
        instrument="BTC-USDT-SWAP",
        side="long",
        margin_mode="cross",
        leverage=5,
        margin="1000",
    )
    lead_position_close(lead=lead, position=pos, fraction="1")
    what, detail, account, amount = _words(lead.user)[0]
    assert (what, detail, account) == (
        "Realized PnL",
        "BTC-USDT-SWAP closed, after the trading fee",
        "Lead futures account",
    )
    assert amount == Decimal("-2.5")  # no price change: only the close fee of 2.50


def test_withdrawal_funding_correction_and_adjustment():
    user = user_with_main_balance("100")
    main = account_main(user=user)
    withdrawal_record(user=user, amount=Decimal("30"), key="w1")
    pool = account_system(Account.Kind.FUNDING_POOL)
    external = account_system(Account.Kind.EXTERNAL)
    paid = ledger_post(
        key="f1",
        kind=JournalEntry.Kind.FUNDING,
        postings=[(main, Decimal("-1.5")), (pool, Decimal("1.5"))],
    )
    ledger_post(
        key="f2",
        kind=JournalEntry.Kind.FUNDING,
        postings=[(pool, Decimal("-0.5")), (main, Decimal("0.5"))],
    )
    ledger_reverse(entry=paid)
    ledger_post(
        key="a1",
        kind=JournalEntry.Kind.ADJUSTMENT,
        postings=[(external, Decimal("-2")), (main, Decimal("2"))],
    )
    assert _words(user) == [
        ("Adjustment", "by our operators", "Main account", Decimal("2")),
        ("Correction", f"reverses entry #{paid.pk}", "Main account", Decimal("1.5")),
        ("Funding received", "every 8 hours on open positions", "Main account", Decimal("0.5")),
        ("Funding paid", "every 8 hours on open positions", "Main account", Decimal("-1.5")),
        ("Withdrawal", "paid out by our operators", "Main account", Decimal("-30")),
        ("Deposit", "credited by our operators", "Main account", Decimal("100")),
    ]


def test_the_statement_never_shows_other_users_or_operator_memos():
    mine = user_with_main_balance("10")
    user_with_main_balance("99")
    words = _words(mine)
    assert words == [("Deposit", "credited by our operators", "Main account", Decimal("10"))]
