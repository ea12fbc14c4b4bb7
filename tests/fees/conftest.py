"""Helpers for the fees tests. Positions are opened and closed through the real positions
service (``positions_apply``: the same ledger entries as every trade) with a zero fee, so a test
can give a copy an exact realized PnL or an exact position and compute the expected figures by
hand. Money enters only through deposits and moves through services: the ledger stays balanced.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.db import transaction

from apps.market.models import Instrument
from apps.positions.models import Position
from apps.positions.services import CloseSpec, OpenSpec, positions_apply
from tests.factories.trading import set_price

_keys = itertools.count(1)


@pytest.fixture
def btc(db):
    set_price("BTC-USDT-SWAP", "50000")
    return Instrument.objects.get(name="BTC-USDT-SWAP")


def open_direct(
    account_id: int,
    *,
    side: str = "long",
    mode: str = "cross",
    size="1",
    price="50000",
    margin="100",
    leverage: int = 5,
    instrument: str = "BTC-USDT-SWAP",
) -> Position:
    """Open a position in ``account_id`` without a fee (margin is an allocation, nothing moves)."""
    inst = Instrument.objects.get(name=instrument)
    with transaction.atomic():
        result = positions_apply(
            key=f"test-open:{next(_keys)}",
            opens=[
                OpenSpec(
                    account_id=account_id,
                    instrument_id=inst.pk,
                    side=side,
                    margin_mode=mode,
                    leverage=leverage,
                    size=D(size),
                    price=D(price),
                    margin=D(margin),
                    fee=D("0"),
                )
            ],
        )
    return Position.objects.get(pk=result.opened[0])


def close_direct(position: Position, *, realized, fee="0") -> None:
    """Close all of ``position`` booking exactly ``realized`` (and ``fee``)."""
    with transaction.atomic():
        positions_apply(
            key=f"test-close:{next(_keys)}",
            closes=[
                CloseSpec(
                    position_id=position.pk,
                    quantity=position.size,
                    price=position.entry_price,
                    realized_pnl=D(realized),
                    fee=D(fee),
                    margin_released=position.margin,
                    reason="manual",
                )
            ],
        )


def book_realized(copy, amount) -> None:
    """Give ``copy`` a realized PnL of exactly ``amount`` USDT (no fee): a 1-contract BTC long
    opened and closed through the positions service."""
    close_direct(open_direct(copy.account_id), realized=amount)


def backdate_positions(before):
    """Positions opened in the test were opened 'now'; a funding time only counts positions
    held at it, so move their opening before ``before``."""
    Position.objects.update(opened_at=before - timedelta(minutes=1))
