"""How a position and a fill name themselves in the admin (lists, selects, log entries)."""

from decimal import Decimal

from apps.positions.models import Fill, Position


def test_a_closed_position_reads_as_fixed_point_not_scientific():
    # a closed position's size is stored as 0E-8; the admin printed "#1 3 long 0E-8"
    position = Position(pk=1, side="long", size=Decimal("0E-8"))
    assert str(position) == "Position #1 long 0.00000000"


def test_a_fill_reads_as_fixed_point():
    fill = Fill(action="close", quantity=Decimal("1E-8"), price=Decimal("5E+4"))
    assert str(fill) == "close 0.00000001 @ 50000"
