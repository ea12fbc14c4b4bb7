"""Writes of positions, fills and their money: one set-based mechanism for every trade.

``positions_apply`` is used for one lead trade, one follower's manual close, a stop that closes
a copy's positions and a chunk of a thousand mirrored follower trades alike, so every path
books fills, fees and realized PnL the same way, in a constant number of statements.

Invariants:
- Runs inside the caller's transaction (the caller owns a durable one and holds the locks:
  the copy rows, or the lead's account). Ledger accounts are locked by ``ledger_post_batch``
  in pk order.
- Opens move only the fee (account -> platform fees); margin is an allocation inside the
  account. Closes book realized PnL against the market account and the fee to platform fees.
- A close can never drive a user account negative: a loss beyond the account's balance is
  paid by the insurance fund (SPEC §4), and the entry still sums to zero.
- One call books ONE balanced journal entry, under the caller's idempotency key: a posting
  per account that moved (its fees and realized PnL netted), one for the market, one for
  platform fees (and the insurance fund when it paid). A chunk of a thousand mirrored trades
  is one entry with a thousand and two postings, not a thousand entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from apps.core.bulk import bulk_insert, bulk_set
from apps.core.money import ZERO, usdt
from apps.ledger.models import Account, JournalEntry
from apps.ledger.services import EntrySpec, account_system, ledger_post_batch
from apps.positions.models import Fill, Position


@dataclass(frozen=True)
class OpenSpec:
    account_id: int
    instrument_id: int
    side: str
    margin_mode: str
    leverage: int
    size: Decimal
    price: Decimal
    margin: Decimal
    fee: Decimal
    lead_position_id: int | None = None
    reference_price: Decimal | None = None
    lead_event_id: int | None = None
    explanation: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CloseSpec:
    position_id: int
    quantity: Decimal
    price: Decimal
    realized_pnl: Decimal
    fee: Decimal
    margin_released: Decimal
    reason: str
    lead_event_id: int | None = None
    reference_price: Decimal | None = None
    action: str = Fill.Action.CLOSE


@dataclass(frozen=True)
class MarginSpec:
    position_id: int
    margin: Decimal
    leverage: int | None = None


@dataclass
class ApplyResult:
    opened: list[int] = field(default_factory=list)  # position ids, in the order of opens
    closed: list[int] = field(default_factory=list)  # position ids now fully closed
    insurance_paid: Decimal = ZERO


def _merge(postings: list[tuple[int, Decimal]]) -> tuple[tuple[int, Decimal], ...]:
    merged: dict[int, Decimal] = {}
    for acc, amount in postings:
        merged[acc] = merged.get(acc, ZERO) + amount
    return tuple((acc, amt) for acc, amt in merged.items() if amt != 0)


def positions_apply(
    *,
    key: str,
    memo: str = "",
    opens: Sequence[OpenSpec] = (),
    closes: Sequence[CloseSpec] = (),
    margin_changes: Sequence[MarginSpec] = (),
) -> ApplyResult:
    """Book opens, closes and margin changes. Locks: ledger accounts (pk order) through
    ``ledger_post_batch``; the caller holds the copy or lead locks. Idempotency: ``key``
    names the one ledger entry; callers guarantee a batch is applied once (the CopyEvent
    claims for mirroring, the lead event for lead trades)."""
    assert connection.in_atomic_block, "positions_apply runs inside the caller's transaction"
    result = ApplyResult()
    if not (opens or closes or margin_changes):
        return result
    now = timezone.now()
    fees_acc = account_system(Account.Kind.PLATFORM_FEES).pk
    market_acc = account_system(Account.Kind.MARKET).pk
    postings: list[tuple[int, Decimal]] = []

    # --- opens: positions, fills, fee entries -------------------------------------------
    if opens:
        result.opened = bulk_insert(
            Position,
            [
                {
                    "account_id": o.account_id,
                    "lead_position_id": o.lead_position_id,
                    "instrument_id": o.instrument_id,
                    "side": o.side,
                    "margin_mode": o.margin_mode,
                    "leverage": o.leverage,
                    "size": o.size,
                    "opened_size": o.size,
                    "entry_price": o.price,
                    "lead_entry_price": o.reference_price,
                    "margin": o.margin,
                    "fees": o.fee,
                    "explanation": o.explanation,
                    "opened_by_event_id": o.lead_event_id,
                    "opened_at": now,
                }
                for o in opens
            ],
        )
        bulk_insert(
            Fill,
            [
                {
                    "position_id": pid,
                    "lead_event_id": o.lead_event_id,
                    "action": Fill.Action.OPEN,
                    "quantity": o.size,
                    "price": o.price,
                    "reference_price": o.reference_price,
                    "fee": o.fee,
                    "created_at": now,
                }
                for pid, o in zip(result.opened, opens, strict=True)
            ],
            returning=None,
        )
        fees_total = ZERO
        for o in opens:
            if o.fee:
                postings.append((o.account_id, -o.fee))
                fees_total += o.fee
        postings.append((fees_acc, fees_total))

    # --- closes --------------------------------------------------------------------------
    if closes:
        insurance_acc = account_system(Account.Kind.INSURANCE).pk
        rows = {
            r["id"]: r
            for r in Position.objects.filter(pk__in=[c.position_id for c in closes]).values(
                "id",
                "account_id",
                "size",
                "opened_size",
                "margin",
                "realized_pnl",
                "fees",
                "exit_price",
                "status",
            )
        }
        account_ids = {r["account_id"] for r in rows.values()}
        balances = dict(Account.objects.filter(pk__in=account_ids).values_list("pk", "balance"))
        updates = []
        fills = []
        for c in closes:
            row = rows[c.position_id]
            if row["status"] != Position.Status.OPEN or c.quantity > row["size"]:
                raise ValueError(f"position {c.position_id} cannot close {c.quantity}")
            closed_before = row["opened_size"] - row["size"]
            new_size = row["size"] - c.quantity
            exit_price = (
                c.price
                if closed_before == 0 or row["exit_price"] is None
                else usdt(
                    (row["exit_price"] * closed_before + c.price * c.quantity)
                    / (closed_before + c.quantity)
                )
            )
            new_margin = ZERO if new_size == 0 else max(ZERO, row["margin"] - c.margin_released)
            updates.append(
                {
                    "id": c.position_id,
                    "size": new_size,
                    "margin": new_margin,
                    "realized_pnl": row["realized_pnl"] + c.realized_pnl,
                    "fees": row["fees"] + c.fee,
                    "exit_price": exit_price,
                    "status": Position.Status.OPEN if new_size > 0 else Position.Status.CLOSED,
                    "close_reason": "" if new_size > 0 else c.reason,
                    "closed_at": None if new_size > 0 else now,
                }
            )
            if new_size == 0:
                result.closed.append(c.position_id)
            fills.append(
                {
                    "position_id": c.position_id,
                    "lead_event_id": c.lead_event_id,
                    "action": c.action,
                    "quantity": c.quantity,
                    "price": c.price,
                    "reference_price": c.reference_price,
                    "fee": c.fee,
                    "realized_pnl": c.realized_pnl,
                    "created_at": now,
                }
            )
            # Money: the account gains realized - fee; a loss it cannot pay is the insurance
            # fund's (the position should have been liquidated before; SPEC §4).
            acc = row["account_id"]
            net = c.realized_pnl - c.fee
            postings += [(market_acc, -c.realized_pnl), (fees_acc, c.fee)]
            if balances[acc] + net >= 0:
                postings.append((acc, net))
                balances[acc] += net
            else:
                shortfall = -(balances[acc] + net)
                postings += [(acc, -balances[acc]), (insurance_acc, -shortfall)]
                result.insurance_paid += shortfall
                balances[acc] = ZERO
        bulk_set(
            Position,
            updates,
            [
                "size",
                "margin",
                "realized_pnl",
                "fees",
                "exit_price",
                "status",
                "close_reason",
                "closed_at",
            ],
        )
        bulk_insert(Fill, fills, returning=None)

    if margin_changes:
        current = dict(
            Position.objects.filter(pk__in=[m.position_id for m in margin_changes]).values_list(
                "pk", "leverage"
            )
        )
        bulk_set(
            Position,
            [
                {
                    "id": m.position_id,
                    "margin": m.margin,
                    "leverage": m.leverage or current[m.position_id],
                }
                for m in margin_changes
            ],
            ["margin", "leverage"],
        )

    merged = _merge(postings)
    if len(merged) >= 2:
        ledger_post_batch(
            [
                EntrySpec(
                    key=key,
                    kind=JournalEntry.Kind.REALIZED_PNL
                    if closes
                    else JournalEntry.Kind.TRADING_FEE,
                    postings=merged,
                    memo=memo or f"{len(opens)} opens, {len(closes)} closes",
                )
            ]
        )
    return result


def market_close_spec(
    *,
    position,
    instrument,
    quantity: Decimal,
    price: Decimal,
    reason: str,
    lead_event_id: int | None = None,
) -> CloseSpec:
    """The spec for closing ``quantity`` of ``position`` (any object with id, side, size,
    margin, entry_price) at ``price``. Realized PnL rounds toward minus infinity and the fee
    down (SPEC §3); a full close releases all the margin, a partial one its share rounded
    down. Mirrored closes get the same numbers from the pure engine (apps.smart_sync)."""
    from apps.core.money import usdt_down, usdt_floor
    from apps.market import math as pmath

    cv = instrument.contract_value
    return CloseSpec(
        position_id=position.id,
        quantity=quantity,
        price=price,
        realized_pnl=usdt_floor(
            pmath.realized_pnl(position.side, quantity, cv, position.entry_price, price)
        ),
        fee=usdt_down(pmath.notional(quantity, cv, price) * instrument.taker_fee),
        margin_released=position.margin
        if quantity == position.size
        else usdt_down(position.margin * quantity / position.size),
        reason=reason,
        lead_event_id=lead_event_id,
    )
