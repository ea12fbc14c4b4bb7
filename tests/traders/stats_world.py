"""A small platform with two UTC days of history for the trader page tests, through the real
services with the clock set (tests.stats.conftest.at), snapshots and stats taken as the nightly
job does. Figures by hand (BTC-USDT-SWAP: 0.01 BTC a contract, taker fee 0.0005):

- Alpha (10,000 USDT): D1 11:00 a follower copies it with 1,000. D1 12:00 Alpha opens long
  isolated 5x with 1,000 margin at 50,000: 10 contracts, fee 2.5; the copy 1 contract, fee
  0.25. D1 20:00 BTC 51,000: Alpha's equity 9,997.5 + 10 x 0.01 x 1,000 = 10,097.5; the copy's
  999.75 + 10 = 1,009.75. D2 05:00 Alpha closes all at 51,000: realized 100, fee 10 x 0.01 x
  51,000 x 0.0005 = 2.55; equity 10,094.95. The copy: realized 10, fee 0.255, equity 1,009.495.
  Stats as of D2 (7 and 30 days): ROI 10,094.95 / 10,000 - 1 = 0.009495 (+0.94% shown, rounded
  toward zero), PnL 94.95, max drawdown 2.55 / 10,097.5 = 0.00025253... (0.02%), win rate 1 of
  1 (net 100 - 5.05 = 94.95 > 0), 1 opened over 2 days: 3.5 a week, held 17 h. Tracking: the
  copy's ROI 1,009.495 / 1,000 - 1 = 0.009495, the lead's over the same days too: gap 0; 2 lead
  events, both copied. Live now: 1 copier, AUM 1,009.495 (1,009.49 shown), copiers' PnL 9.495.
- Bravo (10,000): no trade. ROI 0, PnL 0.
- Delta (10,000, at most 1 copier): copied once: full.
- Charlie (10,000): ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from apps.stats.services import snapshots_take, trader_stats_refresh
from apps.traders.models import LeadTrader
from apps.traders.services import lead_position_close, lead_position_open, lead_trader_end
from tests.factories.trading import copy_make, lead_make, set_price
from tests.stats.conftest import at

D1, D2 = date(2026, 3, 2), date(2026, 3, 3)


@dataclass
class World:
    alpha: LeadTrader
    bravo: LeadTrader
    charlie: LeadTrader
    delta: LeadTrader
    copy_id: int


def build(capture) -> World:
    """``capture``: pytest-django's django_capture_on_commit_callbacks (mirroring on commit)."""
    with at("2026-03-02 09:00"):
        set_price("BTC-USDT-SWAP", "50000")
    with at("2026-03-02 10:00"):
        alpha = lead_make(nickname="Alpha")
        bravo = lead_make(nickname="Bravo")
        charlie = lead_make(nickname="Charlie")
        delta = lead_make(nickname="Delta", max_copiers=1)
    with at("2026-03-02 11:00"):
        copy = copy_make(alpha, investment="1000")
        copy_make(delta, investment="500")
    with at("2026-03-02 12:00"), capture(execute=True):
        position = lead_position_open(
            lead=alpha,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="isolated",
            leverage=5,
            margin="1000",
        )
    with at("2026-03-02 20:00"):
        set_price("BTC-USDT-SWAP", "51000")
    with at("2026-03-03 05:00"), capture(execute=True):
        lead_position_close(lead=alpha, position=position.pk, fraction="1")
    with at("2026-03-03 06:00"):
        lead_trader_end(lead=charlie)
    with at("2026-03-04 00:05"):
        snapshots_take(day=D1)
        snapshots_take(day=D2)
        trader_stats_refresh(as_of=D2)
    return World(alpha=alpha, bravo=bravo, charlie=charlie, delta=delta, copy_id=copy.pk)
