"""A lead spot buy into a holding a copy has sold out (SPEC §6: every lead buy is copied at
ratio = amount / lead equity before). The copy's holding row is unique per (account, lead
holding), so the buy reopens the sold-out row. Before the fix the buy inserted a second row,
the unique constraint crashed the mirror chunk, and every copy of the chunk, the innocent
ones too, missed the buy (the event failed after its retries). Hand calculations beside each
assertion; the ledger audit runs after each test (tests/conftest.py)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from apps.copies.models import CopyEvent
from apps.copies.services import copy_position_close, copy_stop
from apps.ledger.models import Account
from apps.positions.models import LeadEvent, Position
from apps.traders.services import lead_spot_buy, lead_spot_sell
from tests.copies.test_spot import holding, prices, spot_copy, spot_lead  # noqa: F401

pytestmark = pytest.mark.django_db


def _balance(account_id) -> D:
    return Account.objects.get(pk=account_id).balance


def test_a_buy_after_the_copy_sold_by_hand_is_copied_and_others_are_not_held_back(
    prices,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    # given a lead with 10,000 spot and two copies of 1,000 that copied a 1,000 USDT buy
    lead = spot_lead("10000")
    a = spot_copy(lead, "1000")
    b = spot_copy(lead, "1000")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")
    first = holding(a)
    assert (first.size, first.margin) == (D("0.002"), D("100"))  # ratio 0.1: 100 USDT, fee 0.1
    # and copy A sells its holding by hand at 50,000: proceeds 100, fee 0.1, realized 0
    copy_position_close(copy=a, position=first, user=a.follower)
    assert _balance(a.account_id) == D("999.8")  # 1,000 - 0.1 - 0.1

    # when the lead buys 1,000 USDT of BTC again (lead equity before: 8,999 + 1,000 = 9,999)
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="1000")

    # then the event is mirrored to both copies
    event = LeadEvent.objects.filter(kind="spot_buy").latest("pk")
    assert event.status == "mirrored" and event.attempts == 0
    assert sorted(CopyEvent.objects.filter(lead_event=event).values_list("copy_id", "kind")) == [
        (a.pk, "copied"),
        (b.pk, "copied"),
    ]
    # B (equity 999.9) buys 999.9 x 1,000 / 9,999 = 100 USDT: 0.002 more BTC, fee 0.1
    hb = holding(b)
    assert (hb.size, hb.margin) == (D("0.004"), D("200"))
    # A (equity 999.8) buys 999.8 x 1,000 / 9,999 = 99.98999899... USDT worth: 0.00199979 BTC
    # (down to the lot of 1e-8), cost 0.00199979 x 50,000 = 99.9895, fee 0.0999895, into the
    # same holding row, reopened
    ha = holding(a)
    assert ha.pk == first.pk
    assert (ha.size, ha.margin, ha.status, ha.closed_at, ha.close_reason) == (
        D("0.00199979"),
        D("99.9895"),
        "open",
        None,
        "",
    )
    assert ha.fees == D("0.2999895")  # 0.1 + 0.1 + 0.0999895 over the holding's life
    assert _balance(a.account_id) == D("999.7000105")  # 999.8 - 0.0999895

    # and the reopened holding follows the lead's sells: the lead sells half (0.02 of 0.04);
    # A sells to_lot(0.00199979 / 2) = 0.00099989 for 49.9945, releasing a cost of
    # 99.9895 x 0.00099989 / 0.00199979 = 49.9945 (realized 0), fee 0.0499945
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_sell(lead=lead, instrument="BTC-USDT", fraction="0.5")
    ha.refresh_from_db()
    assert (ha.size, ha.margin) == (D("0.0009999"), D("49.995"))
    assert _balance(a.account_id) == D("999.650016")  # 999.7000105 - 0.0499945

    # and A sells the rest by hand again (the same row's second manual close: 0.0009999 for
    # 49.995 = its cost, fee 0.049995), then stops: 999.650016 - 0.049995 = 999.600021 returns
    copy_position_close(copy=a, position=ha, user=a.follower)
    ha.refresh_from_db()
    assert (ha.status, ha.size, ha.close_reason) == ("closed", D("0"), "manual")
    assert _balance(a.account_id) == D("999.600021")
    main = Account.objects.get(owner=a.follower, kind="main")
    before = main.balance
    copy_stop(copy=a, user=a.follower)
    main.refresh_from_db()
    assert main.balance - before == D("999.600021")
    assert _balance(a.account_id) == 0
    assert Position.objects.filter(account_id=a.account_id, status="open").count() == 0


def test_a_copy_sold_out_by_the_leads_sell_buys_again_with_the_lead(
    prices,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    # given a lead with 10,000 spot and a copy of 100 that copied a 100 USDT buy (ratio 0.01):
    # 1 USDT worth, 0.00002 BTC, fee 0.001
    lead = spot_lead("10000")
    c = spot_copy(lead, "100")
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="100")
    first = holding(c)
    assert first.size == D("0.00002")
    # when the lead sells 60% (0.0012 of 0.002): the copy would sell 0.000012 and keep
    # 0.000008, below the 0.00001 minimum, so it sells everything (SPEC §5.3's remainder rule)
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_sell(lead=lead, instrument="BTC-USDT", fraction="0.6")
    assert holding(c) is None
    assert _balance(c.account_id) == D("99.998")  # 100 - 0.001 - 0.001 (fee on 1 USDT sold)
    # and the lead buys 100 USDT again; lead equity before: 10,000 - 100 - 0.1 + 60 - 0.06
    # cash + 0.0008 x 50,000 held = 9,999.84
    with django_capture_on_commit_callbacks(execute=True):
        lead_spot_buy(lead=lead, instrument="BTC-USDT", amount="100")
    # then the copy buys 99.998 x 100 / 9,999.84 = 0.99999599... USDT worth: 0.00001999 BTC
    # (to the lot), cost 0.9995, fee 0.0009995, into its reopened holding
    event = LeadEvent.objects.filter(kind="spot_buy").latest("pk")
    assert event.status == "mirrored"
    assert CopyEvent.objects.get(lead_event=event, copy=c).kind == "copied"
    h = holding(c)
    assert (h.pk, h.size, h.margin) == (first.pk, D("0.00001999"), D("0.9995"))
    assert _balance(c.account_id) == D("99.9970005")
