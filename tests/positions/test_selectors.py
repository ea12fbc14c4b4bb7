"""The database-summed figures used by mirroring equal the Python ones used everywhere else.

PostgreSQL only: elsewhere ``account_figures_linked`` IS ``account_figures`` (SQLite sums
decimals as floats), so comparing them there would compare a function with itself."""

import pytest

from apps.positions.selectors import account_figures, account_figures_linked
from apps.traders.services import lead_position_open
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db


def test_linked_figures_match_full_figures(postgres, django_capture_on_commit_callbacks):
    # given a follower holding four mirrored positions: both sides, both modes, two instruments
    set_price("BTC-USDT-SWAP", "50000")
    set_price("ETH-USDT-SWAP", "3000")
    lead = lead_make(equity="100000")
    copy = copy_make(lead, investment="5000")
    opened = []
    for inst, side, mode, lev, margin in [
        ("BTC-USDT-SWAP", "long", "cross", 5, "10000"),
        ("ETH-USDT-SWAP", "short", "isolated", 10, "5000"),
        ("BTC-USDT-SWAP", "short", "cross", 3, "7000"),
        ("ETH-USDT-SWAP", "long", "cross", 20, "2000"),
    ]:
        with django_capture_on_commit_callbacks(execute=True):
            opened.append(
                lead_position_open(
                    lead=lead,
                    instrument=inst,
                    side=side,
                    margin_mode=mode,
                    leverage=lev,
                    margin=margin,
                )
            )
    # and prices that moved (a loss on some, a gain on others)
    set_price("BTC-USDT-SWAP", "48123.45678901")
    set_price("ETH-USDT-SWAP", "3111.11")
    accounts = [copy.account_id, lead.futures_account_id]
    full = account_figures(accounts)
    # when the mirroring figures are read for an event on the third lead position
    linked = account_figures_linked(accounts, lead_position_id=opened[2].pk)
    # then the totals agree exactly and only the linked position comes back as a row
    for acc in accounts:
        a, b = full[acc], linked[acc]
        assert (a.balance, a.margin, a.upnl, a.cross_upnl) == (
            b.balance,
            b.margin,
            b.upnl,
            b.cross_upnl,
        )
        assert (a.equity, a.available) == (b.equity, b.available)
    assert full[copy.account_id].upnl != 0
    assert [p.lead_position_id for p in linked[copy.account_id].positions] == [opened[2].pk]
    assert linked[lead.futures_account_id].positions == []
