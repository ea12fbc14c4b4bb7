"""One test per row of the rounding table in apps/core/money.py: every amount a user pays or is
paid rounds toward zero (SPEC §3), through the real code path that books it. Expected values
are hand calculations written out in each test."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import pytest

from apps.core import money
from apps.fees.services import profit_share_due
from apps.ledger.models import Account
from apps.market.models import Instrument
from apps.positions.services import market_close_spec
from apps.traders.services import open_quote
from tests.factories.market import instrument as instrument_make

pytestmark = pytest.mark.django_db


class Pos:
    """The fields market_close_spec reads from a position."""

    def __init__(self, side, size, entry, margin, margin_mode="isolated"):
        self.id, self.side, self.margin_mode = 1, side, margin_mode
        self.size, self.entry_price, self.margin = D(size), D(entry), D(margin)


@pytest.fixture
def btc() -> Instrument:
    return instrument_make("BTC-USDT-SWAP")


def test_trading_fee_rounds_toward_zero(btc):
    # 0.03 contracts x 0.01 BTC x 43,210.98765432 x 0.0005 = 0.00648164814814 -> 0.00648164
    size, margin, fee = open_quote(
        instrument=btc, margin=D("100"), leverage=1, price=D("43210.98765432")
    )
    assert size == D("0.23")  # 100 / (43,210.98765432 x 0.01) = 0.2314 -> 0.23 contracts
    # fee of 0.23 contracts: 0.23 x 432.1098765432 x 0.0005 = 0.04969263580246... -> 0.04969263
    assert fee == D("0.04969263")
    # margin allocated at 1x: 0.23 x 432.1098765432 = 99.385271604936 -> 99.38527160
    assert margin == D("99.38527160")


def test_realized_loss_rounds_toward_zero_so_the_user_pays_at_most_the_exact_loss(btc):
    # long 0.01 contract from 50,000 closed at 49,999.99999999: exact loss 0.01 x 0.01 x
    # 0.00000001 = 1e-12 -> books 0, not -0.00000001 (the old toward-minus-infinity rule)
    spec = market_close_spec(
        position=Pos("long", "0.01", "50000", "5"), instrument=btc, quantity=D("0.01"),
        price=D("49999.99999999"), reason="manual",
    )  # fmt: skip
    assert spec.realized_pnl == 0
    # a loss of 0.123456789 books 0.12345678: long 1 contract (0.01 BTC) at 100 closed at
    # 87.6543211 -> 0.01 x (87.6543211 - 100) = -0.123456789
    spec = market_close_spec(
        position=Pos("long", "1", "100", "5"), instrument=btc, quantity=D("1"),
        price=D("87.6543211"), reason="manual",
    )  # fmt: skip
    assert spec.realized_pnl == D("-0.12345678")


def test_realized_profit_rounds_toward_zero(btc):
    # short 1 contract at 100 closed at 87.6543211: +0.123456789 -> 0.12345678
    spec = market_close_spec(
        position=Pos("short", "1", "100", "5"), instrument=btc, quantity=D("1"),
        price=D("87.6543211"), reason="manual",
    )  # fmt: skip
    assert spec.realized_pnl == D("0.12345678")


def test_margin_released_by_a_partial_close_rounds_toward_zero(btc):
    # 1 of 3 contracts of a position with 100 margin releases 33.33333333 (not ...34)
    spec = market_close_spec(
        position=Pos("long", "3", "100", "100"), instrument=btc, quantity=D("1"),
        price=D("100"), reason="manual",
    )  # fmt: skip
    assert spec.margin_released == D("33.33333333")
    # and a full close releases all of it
    spec = market_close_spec(
        position=Pos("long", "3", "100", "100"), instrument=btc, quantity=D("3"),
        price=D("100"), reason="manual",
    )  # fmt: skip
    assert spec.margin_released == D("100")


def test_profit_share_rounds_toward_zero():
    # 10% of 123.456789015 over the mark -> 12.3456789015 -> 12.34567890
    assert profit_share_due(
        ratio=D("0.1"), realized=D("123.45678901"), high_water=D("-0.000000005")
    ) == D("12.34567890")
    # 30% of 0.00000003 = 0.000000009 -> 0.00000000: never rounds up to a satoshi
    assert profit_share_due(ratio=D("0.3"), realized=D("0.00000003"), high_water=D("0")) == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Fraction(2, 3), "0.66666666"), (Fraction(-2, 3), "-0.66666666"), (D("1.999999999"), "1.99999999")],
)  # fmt: skip
def test_usdt_down_is_toward_zero_for_fractions_and_decimals(value, expected):
    assert money.usdt_down(value) == D(expected)


def test_quantities_round_down_to_the_lot():
    assert money.to_lot(Fraction(638, 100), D("0.01")) == D("6.38")
    assert money.to_lot(Fraction(637999, 100000), D("0.01")) == D("6.37")
    assert money.to_lot(D("0.009"), D("0.01")) == 0


def test_display_rounds_toward_zero_and_never_moves_money():
    assert money.fmt_usdt(D("1234.5678")) == "1,234.56"
    assert money.fmt_amount(D("0.00412345")) == "0.00412345"
    assert money.fmt_amount(D("1000")) == "1,000.00"


def test_rounding_never_leaves_money_unbalanced(btc, django_capture_on_commit_callbacks):
    # the counterparty books the same rounded amounts: after a trade with awkward prices the
    # ledger still sums to zero (the autouse zero-sum check) and the rounding account is unused
    from apps.traders.services import lead_position_close, lead_position_open
    from tests.factories.trading import lead_make, set_price

    set_price("BTC-USDT-SWAP", "43210.98765432")
    lead = lead_make(equity="1000")
    pos = lead_position_open(
        lead=lead, instrument="BTC-USDT-SWAP", side="long", margin_mode="isolated",
        leverage=3, margin="333.33333333",
    )  # fmt: skip
    set_price("BTC-USDT-SWAP", "43199.12345679")
    lead_position_close(lead=lead, position=pos, fraction="0.333")
    assert not Account.objects.filter(kind="rounding").exclude(balance=0).exists()
