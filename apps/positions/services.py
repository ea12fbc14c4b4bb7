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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from apps.core.bulk import bulk_insert, bulk_set
from apps.core.money import ZERO, exact, usdt_down
from apps.ledger.models import Account, JournalEntry
from apps.ledger.services import EntrySpec, account_system, ledger_post_batch
from apps.positions.models import Fill, MarginMode, Position


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
    forfeit: bool = False  # isolated liquidation: the account pays exactly the margin released


@dataclass(frozen=True)
class AddSpec:
    """A spot buy into an existing holding: ``size`` more base units for ``cost`` USDT (the
    amount spent) and ``fee`` on top. The holding's average cost becomes its cost basis over
    its quantity (SPEC §6)."""

    position_id: int
    account_id: int
    size: Decimal
    price: Decimal
    cost: Decimal
    fee: Decimal
    reference_price: Decimal | None = None
    lead_event_id: int | None = None


@dataclass(frozen=True)
class MarginSpec:
    position_id: int
    margin: Decimal
    leverage: int | None = None


@dataclass
class ApplyResult:
    opened: list[int] = field(default_factory=list)  # position ids, in the order of opens
    closed: list[int] = field(default_factory=list)  # position ids now fully closed
    insurance_paid: Decimal = ZERO  # net: deficits paid minus forfeited margin received
    # position id -> what its close moved on the account (realized - fee, after any cap)
    close_amounts: dict[int, Decimal] = field(default_factory=dict)


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
    adds: Sequence[AddSpec] = (),
) -> ApplyResult:
    """Book opens, spot adds, closes and margin changes. Locks: ledger accounts (pk order) through
    ``ledger_post_batch``; the caller holds the copy or lead locks. Idempotency: ``key``
    names the one ledger entry; callers guarantee a batch is applied once (the CopyEvent
    claims for mirroring, the lead event for lead trades)."""
    assert connection.in_atomic_block, "positions_apply runs inside the caller's transaction"
    result = ApplyResult()
    if not (opens or adds or closes or margin_changes):
        return result
    book = _Book(
        now=timezone.now(),
        fees=account_system(Account.Kind.PLATFORM_FEES).pk,
        market=account_system(Account.Kind.MARKET).pk,
    )
    if opens:
        result.opened = _apply_opens(opens, book)
    if adds:
        _apply_adds(adds, book)
    if closes:
        result.closed, result.insurance_paid, result.close_amounts = _apply_closes(closes, book)
    if margin_changes:
        _apply_margin_changes(margin_changes)
    _post(book, key=key, memo=memo or f"{len(opens)} opens, {len(closes)} closes", closes=closes)
    return result


@dataclass
class _Book:
    """The postings one call books, netted per account into one entry at the end."""

    now: object
    fees: int
    market: int
    postings: list[tuple[int, Decimal]] = field(default_factory=list)


def _apply_opens(opens: Sequence[OpenSpec], book: _Book) -> list[int]:
    """New positions and their fills; each open's fee moves account -> platform fees."""
    ids = bulk_insert(
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
                "opened_at": book.now,
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
                "created_at": book.now,
            }
            for pid, o in zip(ids, opens, strict=True)
        ],
        returning=None,
    )
    fees_total = ZERO
    for o in opens:
        if o.fee:
            book.postings.append((o.account_id, -o.fee))
            fees_total += o.fee
    book.postings.append((book.fees, fees_total))
    return ids


_ADD_WRITE = (
    "size", "opened_size", "margin", "fees", "entry_price", "status", "close_reason", "closed_at",
)  # fmt: skip


def _apply_adds(adds: Sequence[AddSpec], book: _Book) -> None:
    """Grow spot holdings at average cost: size and cost basis add up, the average cost is the
    cost basis over the quantity (rounded down: display only; the cost basis is what a sale
    releases), each add is a fill; the fees move account -> platform fees.

    A copied holding that was sold out (by hand, or following the lead's sells) is reopened by
    the next buy: the (account, lead holding) pair is unique, so the copy keeps one holding per
    lead holding whose realized PnL and fees add up over its whole life."""
    rows = {
        r["id"]: r
        for r in Position.objects.filter(pk__in=[a.position_id for a in adds]).values(
            "id", "size", "opened_size", "margin", "fees", "status"
        )
    }
    updates = []
    for a in adds:
        row = rows[a.position_id]
        if row["status"] != Position.Status.OPEN and (row["size"] or row["margin"]):
            raise ValueError(f"position {a.position_id} is closed: cannot add to it")
        size, cost = row["size"] + a.size, row["margin"] + a.cost
        row.update(size=size, opened_size=row["opened_size"] + a.size, margin=cost)
        row["fees"] += a.fee
        row["status"] = Position.Status.OPEN
        updates.append(
            {
                "id": a.position_id,
                "size": size,
                "opened_size": row["opened_size"],
                "margin": cost,
                "fees": row["fees"],
                "entry_price": usdt_down(exact(cost) / exact(size)),
                "status": Position.Status.OPEN,
                "close_reason": "",
                "closed_at": None,
            }
        )
        book.postings += [(a.account_id, -a.fee), (book.fees, a.fee)]
    bulk_set(Position, updates, _ADD_WRITE)
    bulk_insert(
        Fill,
        [
            {
                "position_id": a.position_id,
                "lead_event_id": a.lead_event_id,
                "action": Fill.Action.OPEN,
                "quantity": a.size,
                "price": a.price,
                "reference_price": a.reference_price,
                "fee": a.fee,
                "created_at": book.now,
            }
            for a in adds
        ],
        returning=None,
    )


_CLOSE_READ = (
    "id", "account_id", "size", "opened_size", "margin", "realized_pnl", "fees", "exit_price",
    "status", "margin_mode",
)  # fmt: skip
_CLOSE_WRITE = (
    "size", "margin", "realized_pnl", "fees", "exit_price", "status", "close_reason", "closed_at",
)  # fmt: skip


@dataclass(frozen=True)
class CloseMoney:
    """What one close moves: the account's change, the fee charged, and what the insurance
    fund receives (+, forfeited margin) or pays (-, a deficit)."""

    account: Decimal
    fee: Decimal
    insurance: Decimal

    @property
    def realized(self) -> Decimal:  # recorded on the position: realized - fee == account
        return self.account + self.fee


def _apply_closes(
    closes: Sequence[CloseSpec], book: _Book
) -> tuple[list[int], Decimal, dict[int, Decimal]]:
    """Shrink or close positions, record their fills, book realized PnL and fees, within the
    loss caps (``close_money``). Returns the ids now fully closed, what the insurance fund
    paid net, and each close's effect on its account."""
    rows = {
        r["id"]: r
        for r in Position.objects.filter(pk__in=[c.position_id for c in closes]).values(
            *_CLOSE_READ
        )
    }
    accounts = {r["account_id"] for r in rows.values()}
    balances = dict(Account.objects.filter(pk__in=accounts).values_list("pk", "balance"))
    floors = _isolated_floors(accounts, rows, closes)
    insurance = account_system(Account.Kind.INSURANCE).pk
    updates, fills, closed, paid, amounts = [], [], [], ZERO, {}
    for c in booking_order(closes, lambda c: rows[c.position_id]["margin_mode"]):
        row = rows[c.position_id]
        money = close_money(c, row, balances, floors)
        updates.append(_closed_row(row, c, money, book.now))
        if updates[-1]["size"] == 0:
            closed.append(c.position_id)
        fills.append(_close_fill(c, money, book.now))
        book.postings += [
            (row["account_id"], money.account),
            (book.market, -c.realized_pnl),
            (book.fees, money.fee),
            (insurance, money.insurance),
        ]
        paid -= money.insurance
        amounts[c.position_id] = amounts.get(c.position_id, ZERO) + money.account
    bulk_set(Position, updates, _CLOSE_WRITE)
    bulk_insert(Fill, fills, returning=None)
    return closed, paid, amounts


def _isolated_floors(accounts, rows: dict, closes: Sequence[CloseSpec]) -> dict[int, Decimal]:
    """Per account, the isolated margin that stays allocated after this batch: a cross loss may
    never take it (it belongs to isolated positions, whose own losses are capped at it)."""
    floors = {acc: ZERO for acc in accounts}
    # only cross closes read the floor: skip the query when the batch has none
    crossing = {
        rows[c.position_id]["account_id"]
        for c in closes
        if rows[c.position_id]["margin_mode"] == MarginMode.CROSS
    }
    if not crossing:
        return floors
    for acc, margin in Position.objects.filter(
        account_id__in=crossing, status=Position.Status.OPEN, margin_mode=MarginMode.ISOLATED
    ).values_list("account_id", "margin"):
        floors[acc] += margin
    for c in closes:
        row = rows[c.position_id]
        if row["margin_mode"] == MarginMode.ISOLATED:
            released = row["margin"] if c.quantity == row["size"] else c.margin_released
            floors[row["account_id"]] -= released
    return floors


def booking_order(closes: Sequence, margin_mode_of: Callable) -> list:
    """The order in which a batch of closes is booked (``close_money`` one after another):
    cross closes last. Their cap reads the isolated margin still allocated AFTER the batch, so
    the batch's isolated (and spot) results must be on the balance first; otherwise the outcome
    hangs on position ids (a cross loss booked first could take the released isolated margin,
    an isolated gain booked after it was kept, and the insurance fund paid a deficit the account
    could cover). Every estimate and simulation of a batch books in this order too."""
    return sorted(closes, key=lambda c: margin_mode_of(c) == MarginMode.CROSS)


def close_money(
    c: CloseSpec, row: dict, balances: dict[int, Decimal], floors: dict[int, Decimal]
) -> CloseMoney:
    """The loss caps (SPEC §4): an isolated close never takes more from the account than the
    margin it releases (a liquidation takes exactly that: the rest is forfeited to the
    insurance fund); a cross close never takes the isolated margins nor drives the account
    negative. Whatever the market is owed beyond the cap, the insurance fund pays."""
    acc = row["account_id"]
    gain, fee = c.realized_pnl - c.fee, c.fee
    if row["margin_mode"] == MarginMode.ISOLATED:
        cap = row["margin"] if c.quantity == row["size"] else c.margin_released
        if c.forfeit or -gain > cap:
            fee = min(fee, cap)
            gain = -cap
    else:
        room = max(ZERO, balances[acc] - floors[acc])
        if -gain > room:
            fee = min(fee, room)
            gain = -room
    if balances[acc] + gain < 0:  # never negative, whatever happened before
        gain = -balances[acc]
        fee = min(fee, -gain)
    balances[acc] += gain
    return CloseMoney(account=gain, fee=fee, insurance=c.realized_pnl - gain - fee)


def _closed_row(row: dict, c: CloseSpec, money: CloseMoney, now) -> dict:
    if row["status"] != Position.Status.OPEN or c.quantity > row["size"]:
        raise ValueError(f"position {c.position_id} cannot close {c.quantity}")
    closed_before = row["opened_size"] - row["size"]
    new_size = row["size"] - c.quantity
    if closed_before == 0 or row["exit_price"] is None:
        exit_price = c.price
    else:  # the average close price, for display (exact, then toward zero to 8 places)
        exit_price = usdt_down(
            (exact(row["exit_price"]) * exact(closed_before) + exact(c.price) * exact(c.quantity))
            / exact(closed_before + c.quantity)
        )
    still_open = new_size > 0
    return {
        "id": c.position_id,
        "size": new_size,
        "margin": max(ZERO, row["margin"] - c.margin_released) if still_open else ZERO,
        "realized_pnl": row["realized_pnl"] + money.realized,
        "fees": row["fees"] + money.fee,
        "exit_price": exit_price,
        "status": Position.Status.OPEN if still_open else Position.Status.CLOSED,
        "close_reason": "" if still_open else c.reason,
        "closed_at": None if still_open else now,
    }


def _close_fill(c: CloseSpec, money: CloseMoney, now) -> dict:
    return {
        "position_id": c.position_id,
        "lead_event_id": c.lead_event_id,
        "action": c.action,
        "quantity": c.quantity,
        "price": c.price,
        "reference_price": c.reference_price,
        "fee": money.fee,
        "realized_pnl": money.realized,
        "created_at": now,
    }


def _apply_margin_changes(margin_changes: Sequence[MarginSpec]) -> None:
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


def _post(book: _Book, *, key: str, memo: str, closes: Sequence[CloseSpec]) -> None:
    merged = _merge(book.postings)
    if len(merged) < 2:
        return
    kind = JournalEntry.Kind.REALIZED_PNL if closes else JournalEntry.Kind.TRADING_FEE
    ledger_post_batch([EntrySpec(key=key, kind=kind, postings=merged, memo=memo)])


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
    margin, entry_price) at ``price``. Realized PnL and the fee round toward zero
    (SPEC §3, apps/core/money.py); a full close releases all the margin, a partial one its share rounded
    down. Mirrored closes get the same numbers from the pure engine (apps.smart_sync)."""
    from apps.market import math as pmath

    cv = instrument.contract_value
    notional = exact(pmath.notional(quantity, cv, price))
    released = (
        position.margin
        if quantity == position.size
        else usdt_down(exact(position.margin) * exact(quantity) / exact(position.size))
    )
    if position.margin_mode == MarginMode.SPOT:  # average cost: fetched minus cost released
        realized = usdt_down(notional - exact(released))
    else:
        realized = usdt_down(
            pmath.realized_pnl(position.side, quantity, cv, position.entry_price, price)
        )
    return CloseSpec(
        position_id=position.id,
        quantity=quantity,
        price=price,
        realized_pnl=realized,
        fee=usdt_down(notional * exact(instrument.taker_fee)),
        margin_released=released,
        reason=reason,
        lead_event_id=lead_event_id,
    )
