from decimal import Decimal

import pytest

from apps.core.api import MoneyField


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("-0.000000001", "0.00000000"),  # a tiny negative uPnL is zero, without a sign
        ("-0", "0.00000000"),
        ("-1.5", "-1.50000000"),
        ("12.3", "12.30000000"),
    ],
)
def test_money_field_writes_8_places_and_unsigned_zero(value, text):
    assert MoneyField().to_representation(Decimal(value)) == text
