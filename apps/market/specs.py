"""The instrument specs of SPEC §4, as plain data (no Django imports).

Migration 0003 carries its own frozen copy of this table (a migration must not change meaning when
this module changes later); a test keeps the two equal. ``instruments_ensure()`` and the test
factories use this table to recreate instruments after a transactional test flushed the tables.
"""

from __future__ import annotations

from decimal import Decimal

D = Decimal

_PERP_COMMON = {
    "kind": "perpetual",
    "lot_size": D("0.01"),
    "min_size": D("0.01"),
    "taker_fee": D("0.0005"),
}
_SPOT_COMMON = {
    "kind": "spot",
    "contract_value": D("1"),
    "lot_size": D("0.00000001"),
    "max_leverage": None,
    "mmr": None,
    "taker_fee": D("0.001"),
}

INSTRUMENT_SPECS: tuple[dict, ...] = (
    {
        "name": "BTC-USDT-SWAP",
        "base_asset": "BTC",
        "contract_value": D("0.01"),
        "max_leverage": 100,
        "mmr": D("0.004"),
        "tick_size": D("0.1"),
        **_PERP_COMMON,
    },
    {
        "name": "ETH-USDT-SWAP",
        "base_asset": "ETH",
        "contract_value": D("0.1"),
        "max_leverage": 100,
        "mmr": D("0.004"),
        "tick_size": D("0.01"),
        **_PERP_COMMON,
    },
    {
        "name": "SOL-USDT-SWAP",
        "base_asset": "SOL",
        "contract_value": D("1"),
        "max_leverage": 50,
        "mmr": D("0.01"),
        "tick_size": D("0.01"),
        **_PERP_COMMON,
    },
    {
        "name": "BTC-USDT",
        "base_asset": "BTC",
        "min_size": D("0.00001"),
        "tick_size": D("0.1"),
        **_SPOT_COMMON,
    },
    {
        "name": "ETH-USDT",
        "base_asset": "ETH",
        "min_size": D("0.0001"),
        "tick_size": D("0.01"),
        **_SPOT_COMMON,
    },
    {
        "name": "SOL-USDT",
        "base_asset": "SOL",
        "min_size": D("0.001"),
        "tick_size": D("0.01"),
        **_SPOT_COMMON,
    },
)

SPECS_BY_NAME: dict[str, dict] = {spec["name"]: spec for spec in INSTRUMENT_SPECS}
