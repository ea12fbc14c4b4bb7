"""Copy figures: one definition of equity, PnL, margin and available for the API, the pages
and the admin (SPEC §2, §11.2).

- equity            = copy account balance + uPnL of its open positions
- pnl               = equity - net investment (money moved in - money moved out)
- realized_pnl      = sum of closed PnL - trading fees + funding (net, SPEC §8's R)
- unrealized_pnl    = uPnL of open positions at the current price
- margin_in_use     = margins of open positions
- available         = free cash for new margin and fees (positions.selectors)
- profit share pending = owed + ratio x max(0, R - high-water mark), the latter rounded down
  (``profit_share_due`` below; owed: what an earlier settlement could not pay)
- funding           = funding of all the copy's positions, open and closed: received (+) or
                      paid (-); already inside realized_pnl
- per open position: liquidation price and margin level from apps.positions.risk.account_risk
  (the API's figures: isolated the position's, cross the account's)
- spot copies (SPEC §6): margin_in_use is the holdings' cost basis, available is the USDT cash;
  a holding's value = quantity x price, its uPnL = quantity x (price - average cost); a sale
  fetches quantity x price (rounded down to 8 places) and pays the taker fee on it
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db.models import Count, QuerySet

from apps.copies import engine, explain
from apps.copies.models import Copy, CopyEvent
from apps.core.exceptions import NotFound
from apps.core.money import ZERO, exact, usdt_down
from apps.ledger.models import Account
from apps.ledger.selectors import wallet_get
from apps.market import math as pmath
from apps.market.models import Instrument
from apps.market.services import venue_price
from apps.positions.models import Fill, LeadEvent, MarginMode, Position
from apps.positions.risk import account_risk
from apps.positions.selectors import (
    AccountFigures,
    OpenPositionRow,
    account_figures,
    account_figures_one,
    position_list,
    position_upnl,
    position_value,
    realized_totals,
)
from apps.positions.services import booking_order, close_money, market_close_spec
from apps.traders.models import LeadTrader


def profit_share_due(
    *, ratio: Decimal, realized: Decimal, high_water: Decimal, owed: Decimal = ZERO
) -> Decimal:
    """What a settlement now would ask for: owed + ratio x max(0, R - H), the second term rounded
    down (SPEC §8). This is the copy's *pending* profit share (copies.selectors, the API, the
    pages) and the ``due`` of a settlement (apps.fees.services)."""
    return owed + usdt_down(exact(ratio) * exact(max(ZERO, realized - high_water)))


@dataclass(frozen=True)
class CopyFigures:
    equity: Decimal
    pnl: Decimal
    realized_pnl: Decimal
    unrealized_pnl: Decimal
    margin_in_use: Decimal
    available: Decimal
    cash: Decimal
    balance: Decimal
    profit_share_pending: Decimal
    open_positions: int
    funding: Decimal = ZERO  # received (+) or paid (-) by all its positions
    # the open positions read for these figures (spot: the holdings), with their marks
    positions: tuple[OpenPositionRow, ...] = ()


def copy_figures_many(copies: list[Copy]) -> dict[int, CopyFigures]:
    """Figures for many copies in three queries."""
    account_ids = [c.account_id for c in copies]
    figs = account_figures(account_ids)
    totals = realized_totals(account_ids)
    out = {}
    for c in copies:
        f = figs[c.account_id]
        t = totals.get(c.account_id) or {"realized": ZERO, "fees": ZERO, "funding": ZERO}
        realized = t["realized"] - t["fees"] + t["funding"]
        pending = profit_share_due(
            ratio=c.profit_share_ratio,
            realized=realized,
            high_water=c.high_water_mark,
            owed=c.profit_share_owed,
        )
        out[c.pk] = CopyFigures(
            equity=f.equity,
            # stopped: everything came back, so PnL = what came back - what went in
            pnl=f.equity - c.total_investment if c.is_active else realized - c.profit_share_paid,
            realized_pnl=realized,
            unrealized_pnl=f.upnl,
            margin_in_use=f.margin,
            available=f.available,
            cash=f.cash,
            balance=f.balance,
            profit_share_pending=pending if c.is_active else ZERO,
            open_positions=len(f.positions),
            funding=t["funding"],
            positions=tuple(f.positions),
        )
    return out


def copy_figures(copy: Copy) -> CopyFigures:
    return copy_figures_many([copy])[copy.pk]


def copy_list_for_user(*, user, status: str | None = None) -> QuerySet[Copy]:
    qs = Copy.objects.filter(follower=user).select_related("lead", "account")
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def copy_get_for_user(*, user, copy_id) -> Copy:
    """A user sees only their own copies: anything else is 'not found' (no enumeration)."""
    try:
        return Copy.objects.select_related("lead", "account").get(pk=int(copy_id), follower=user)
    except (Copy.DoesNotExist, ValueError, TypeError):
        raise NotFound("No such copy.") from None


def copy_events(*, copy: Copy) -> QuerySet[CopyEvent]:
    return copy.events.select_related("lead_event").order_by("-id")


# --- page read models (My Copies, Copy Trade Details, Settings, the copy wizard) ----------------
# The pages render these through the money filters and do no arithmetic of their own; every
# figure here is built from the definitions above, so a page and the API never disagree.
# Ratios (PnL %, stop loss %) are 8-place fractions rounded toward zero, for display only.


def _ratio(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return usdt_down(exact(part) / exact(whole))


@dataclass(frozen=True)
class CopyRow:
    """One copy with its figures, as My Copies and Copy Trade Details show it."""

    copy: Copy
    figures: CopyFigures
    pnl_ratio: Decimal | None  # PnL / Total Investment
    realized_ratio: Decimal | None
    unrealized_ratio: Decimal | None
    stop_loss: StopLossLevel | None
    stop_loss_state: StopLossState | None  # set once Total Stop Loss for Trader triggered
    profit_share_owed: Decimal  # what settlements could not pay (the copy's cash was short)
    # spot copies: each holding (asset, quantity, value now) and their value together
    holdings: tuple[HoldingSummary, ...] = ()
    holdings_value: Decimal | None = None

    @property
    def is_spot(self) -> bool:
        return self.copy.market == Copy.Market.SPOT


@dataclass(frozen=True)
class HoldingSummary:
    """A spot copy's holding of one asset, as My Copies lists it."""

    asset: str
    quantity: Decimal
    value: Decimal | None  # quantity x price now (None: no price yet)


def copy_rows(copies: list[Copy]) -> list[CopyRow]:
    """Rows for a page of copies: the figures of ``copy_figures_many`` (three queries), and one
    more for the assets' names when the page has a spot copy."""
    figures = copy_figures_many(copies)
    assets = {}
    if any(c.market == Copy.Market.SPOT for c in copies):
        assets = dict(
            Instrument.objects.filter(kind=Instrument.Kind.SPOT).values_list("pk", "base_asset")
        )
    return [_copy_row(c, figures[c.pk], assets) for c in copies]


def copy_row(copy: Copy) -> CopyRow:
    return copy_rows([copy])[0]


def _holdings(f: CopyFigures, assets: dict[int, str]) -> tuple[HoldingSummary, ...]:
    rows = [
        HoldingSummary(
            asset=assets.get(p.instrument_id, "?"),
            quantity=p.size,
            value=None if p.mark is None else pmath.notional(p.size, p.contract_value, p.mark),
        )
        for p in f.positions
        if p.margin_mode == MarginMode.SPOT
    ]
    rows.sort(key=lambda h: (h.value is None, -(h.value or ZERO), h.asset))
    return tuple(rows)


def _copy_row(copy: Copy, f: CopyFigures, assets: dict[int, str]) -> CopyRow:
    base = copy.total_investment
    holdings = _holdings(f, assets) if copy.market == Copy.Market.SPOT else ()
    return CopyRow(
        copy=copy,
        figures=f,
        pnl_ratio=_ratio(f.pnl, base),
        realized_ratio=_ratio(f.realized_pnl, base),
        unrealized_ratio=_ratio(f.unrealized_pnl, base),
        stop_loss=stop_loss_level(total_investment=base, total_stop_loss=copy.total_stop_loss),
        stop_loss_state=stop_loss_state(copy),
        profit_share_owed=copy.profit_share_owed if copy.is_active else ZERO,
        holdings=holdings,
        holdings_value=(
            sum((h.value for h in holdings if h.value is not None), ZERO)
            if copy.market == Copy.Market.SPOT
            else None
        ),
    )


def copy_counts_for_user(*, user) -> dict[str, int]:
    """How many of the user's copies are ongoing (active, stopping included) and stopped."""
    counts = dict.fromkeys(Copy.Status.values, 0)
    for status, n in (
        Copy.objects.filter(follower=user)
        .values("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    ):
        counts[status] = n
    return counts


@dataclass(frozen=True)
class StopLossLevel:
    """Where Total Stop Loss for Trader triggers (SPEC §7): copy PnL <= -amount, i.e. copy
    equity <= net investment - amount."""

    amount: Decimal
    pnl: Decimal  # the copy PnL that triggers it (negative)
    equity: Decimal  # the copy equity that triggers it
    ratio: Decimal | None  # amount / Total Investment


def stop_loss_level(*, total_investment, total_stop_loss) -> StopLossLevel | None:
    if total_stop_loss is None:
        return None
    return StopLossLevel(
        amount=total_stop_loss,
        pnl=-total_stop_loss,
        equity=total_investment - total_stop_loss,
        ratio=_ratio(total_stop_loss, total_investment),
    )


# The stop-loss trigger as stored by the risk pass (apps.copies.risk): what happens to the
# positions that were open, in the words of the pages.
STOP_LOSS_POSITIONS = {
    Copy.StopLossAction.CLOSE_ALL: "every open position was closed at market",
    Copy.StopLossAction.KEEP: "open positions follow the lead's closes",
    Copy.StopLossAction.HAND_OVER: "open positions are yours to close",
}
# a spot copy holds assets: the same actions in its words
STOP_LOSS_HOLDINGS = {
    Copy.StopLossAction.CLOSE_ALL: "every holding was sold at market",
    Copy.StopLossAction.KEEP: "holdings follow the lead's sells",
    Copy.StopLossAction.HAND_OVER: "holdings are yours to sell",
}


@dataclass(frozen=True)
class StopLossState:
    """Total Stop Loss for Trader triggered: when, at which copy PnL and equity, the amount it
    was set to, the action taken, and the marks of the instruments held then."""

    triggered_at: datetime
    pnl: Decimal | None
    equity: Decimal | None
    amount: Decimal | None
    action: str
    action_label: str
    positions: str  # what happens to the open positions, in words
    marks: list[tuple[str, Decimal]]


def _stored_decimal(value) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        return None


def stop_loss_state(copy: Copy) -> StopLossState | None:
    """The recorded trigger of the copy's Total Stop Loss for Trader (None: never triggered)."""
    if copy.stop_loss_triggered_at is None:
        return None
    t = copy.stop_loss_trigger or {}
    action = t.get("action") or copy.stop_loss_action
    if action not in Copy.StopLossAction.values:
        action = copy.stop_loss_action
    marks = []
    for name, price in sorted((t.get("marks") or {}).items()):
        value = _stored_decimal(price)
        if value is not None:
            marks.append((name, value))
    words = STOP_LOSS_HOLDINGS if copy.market == Copy.Market.SPOT else STOP_LOSS_POSITIONS
    return StopLossState(
        triggered_at=copy.stop_loss_triggered_at,
        pnl=_stored_decimal(t.get("pnl_usdt")),
        equity=_stored_decimal(t.get("equity_usdt")),
        amount=_stored_decimal(t.get("stop_loss_usdt")),
        action=action,
        action_label=Copy.StopLossAction(action).label,
        positions=words[action],
        marks=marks,
    )


# A margin level at or below this (200%) is shown as close to liquidation (at 100% the position,
# or every cross position of the account, is liquidated).
NEAR_LIQUIDATION_LEVEL = Decimal("2")


@dataclass(frozen=True)
class RiskView:
    """An open position's risk as the pages show it: apps.positions.risk's liquidation price
    and margin level (cross positions: their account's), whether it is close to liquidation,
    and, in words, why there is no price or that the figure is the whole account's."""

    liquidation_price: Decimal | None
    margin_level: Decimal | None  # 1 = 100%
    near_liquidation: bool
    cross: bool
    note: str  # "" or a few words under the liquidation price


def risk_views(fig: AccountFigures) -> dict[int, RiskView]:
    """Per open position of one account (figures read by the caller: no query here)."""
    risk = account_risk(fig)
    cross_instruments = {p.instrument_id for p in fig.positions if p.margin_mode == "cross"}
    out = {}
    for row in fig.positions:
        r = risk[row.id]
        cross = row.margin_mode == "cross"
        if r.liquidation_price is not None:
            note = "whole account (cross)" if cross else ""
        elif not cross:
            note = "its margin covers any fall"
        elif len(cross_instruments) > 1:
            note = "several instruments share the cross margin: see the margin level"
        else:
            note = "the account's cash covers any fall"
        out[row.id] = RiskView(
            liquidation_price=r.liquidation_price,
            margin_level=r.margin_level,
            near_liquidation=r.margin_level is not None
            and r.margin_level <= NEAR_LIQUIDATION_LEVEL,
            cross=cross,
            note=note,
        )
    return out


@dataclass(frozen=True)
class PositionRow:
    """An open or closed follower position with its live uPnL, its net result and the stored
    sizing explanation in words; open ones with their risk (liquidation price, margin level)."""

    position: Position
    upnl: Decimal
    net_pnl: Decimal  # realized - fees + funding (closed: the position's whole result)
    why: list[str]
    risk: RiskView | None = None


def _position_rows(positions, risk: dict[int, RiskView] | None = None) -> list[PositionRow]:
    return [
        PositionRow(
            position=p,
            upnl=position_upnl(p),
            net_pnl=p.realized_pnl - p.fees + p.funding,
            why=explain.sizing(
                p.explanation,
                contract_value=p.instrument.contract_value,
                base_asset=p.instrument.base_asset,
            ),
            risk=(risk or {}).get(p.pk) if p.status == Position.Status.OPEN else None,
        )
        for p in positions
    ]


def copy_open_positions(*, copy: Copy) -> list[PositionRow]:
    """The copy's open positions with their risk figures (three queries, whatever their
    number: the positions, then the account's balance and open positions for the risk)."""
    positions = list(position_list(account_id=copy.account_id, status=Position.Status.OPEN))
    if not positions:
        return []
    return _position_rows(positions, risk_views(account_figures_one(copy.account_id)))


def copy_closed_positions(*, copy: Copy) -> QuerySet[Position]:
    """Position history, newest first; page it, then turn a page into rows with
    ``position_rows``."""
    return position_list(account_id=copy.account_id, status=Position.Status.CLOSED)


def position_rows(positions) -> list[PositionRow]:
    return _position_rows(positions)


# --- spot copies: holdings and sells (SPEC §6) -------------------------------------------------
BUY_START, BUY_FIRST, BUY_ADD = "start", "first", "add"


@dataclass(frozen=True)
class BuyWhy:
    """One buy into a holding and its sizing explanation in words: ``kind`` is "start" (Buy
    Existing Assets when the copy started), "first" (the copy of the lead's first buy) or
    "add" (a later lead buy, added at average cost)."""

    kind: str
    at: datetime | None
    lines: list[str]


@dataclass(frozen=True)
class HoldingRow:
    """An open holding of a spot copy at the current price, with every buy's explanation."""

    position: Position
    asset: str
    quantity: Decimal
    average_cost: Decimal
    cost: Decimal  # cost basis: what the holding cost, fees apart
    price: Decimal | None
    value: Decimal | None  # quantity x price
    upnl: Decimal  # quantity x (price - average cost)
    buys: list[BuyWhy]


def copy_holdings(*, copy: Copy) -> list[HoldingRow]:
    """A spot copy's holdings, largest value first, each with "why this size" for every buy
    (the first on the holding, later ones on their copy events). Two queries, whatever the
    number of holdings and buys."""
    positions = list(position_list(account_id=copy.account_id, status=Position.Status.OPEN))
    if not positions:
        return []
    by_id = {p.pk: p for p in positions}
    adds: dict[int, list[BuyWhy]] = {}
    later = (
        CopyEvent.objects.filter(
            copy_id=copy.pk,
            kind=CopyEvent.Kind.COPIED,
            position_id__in=list(by_id),
            lead_event__kind=LeadEvent.Kind.SPOT_BUY,
        )
        .order_by("id")
        .values_list("position_id", "created_at", "explanation")
    )
    for position_id, at, exp in later:
        if exp:  # a first buy's explanation lives on the holding itself
            asset = by_id[position_id].instrument.base_asset
            lines = explain.sizing(exp, base_asset=asset, spot=True)
            adds.setdefault(position_id, []).append(BuyWhy(BUY_ADD, at, lines))
    rows = []
    for p in positions:
        started = (p.explanation or {}).get("source") == explain.ONGOING_SOURCE
        first = BuyWhy(
            BUY_START if started else BUY_FIRST,
            p.opened_at,
            explain.sizing(p.explanation, base_asset=p.instrument.base_asset, spot=True),
        )
        price = getattr(p.instrument, "price", None)
        rows.append(
            HoldingRow(
                position=p,
                asset=p.instrument.base_asset,
                quantity=p.size,
                average_cost=p.entry_price,
                cost=p.margin,
                price=price.price if price is not None else None,
                value=position_value(p),
                upnl=position_upnl(p),
                buys=[b for b in (first, *adds.get(p.pk, [])) if b.lines],
            )
        )
    rows.sort(key=lambda h: (h.value is None, -(h.value or ZERO), h.asset))
    return rows


def copy_sells(*, copy: Copy) -> QuerySet[Fill]:
    """Every sale of a spot copy's holdings (the lead's sells mirrored, a sale by hand, the
    stop), newest first; page it, then turn a page into rows with ``sell_rows``."""
    return (
        Fill.objects.filter(
            position__account_id=copy.account_id,
            action__in=(Fill.Action.CLOSE, Fill.Action.LIQUIDATION),
        )
        .select_related("position__instrument", "lead_event")
        .order_by("-id")
    )


@dataclass(frozen=True)
class SellRow:
    """One sale: quantity x price fetched, realized PnL at average cost (what it fetched minus
    the cost it released), the taker fee on it, and the USDT it left in the copy's cash."""

    fill: Fill
    asset: str
    proceeds: Decimal
    realized_pnl: Decimal
    fee: Decimal
    received: Decimal  # proceeds - fee
    net: Decimal  # realized PnL - fee
    lead_fraction: Decimal | None  # the share of their holding the lead sold (a mirrored sell)
    reason: str  # why it was sold, in words, when it was not the lead's sell


SELL_REASONS = {
    Position.CloseReason.MANUAL: "Sold by you at market",
    Position.CloseReason.STOP_COPY: "Copy stopped: every holding sold at market",
    Position.CloseReason.STOP_LOSS: "Total Stop Loss for Trader: sold at market",
    Position.CloseReason.LEAD_ENDED: "The lead trader ended their strategy: sold at market",
}


def sell_rows(fills) -> list[SellRow]:
    rows = []
    for f in fills:
        proceeds = usdt_down(exact(f.quantity) * exact(f.price))
        le = f.lead_event
        mirrored = le is not None and le.kind == LeadEvent.Kind.SPOT_SELL
        reason = "" if mirrored else SELL_REASONS.get(f.position.close_reason, "Sold at market")
        rows.append(
            SellRow(
                fill=f,
                asset=f.position.instrument.base_asset,
                proceeds=proceeds,
                realized_pnl=f.realized_pnl,
                fee=f.fee,
                received=proceeds - f.fee,
                net=f.realized_pnl - f.fee,
                lead_fraction=le.fraction if mirrored else None,
                reason=reason,
            )
        )
    return rows


MISSED_KINDS = (CopyEvent.Kind.MISSED, CopyEvent.Kind.SYNC_FAILED, CopyEvent.Kind.FAILED)
INVESTMENT_KINDS = (
    CopyEvent.Kind.STARTED,
    CopyEvent.Kind.INVESTMENT,
    CopyEvent.Kind.STOPPED,
    CopyEvent.Kind.LEAD_ENDED,
)


def copy_missed_events(*, copy: Copy) -> QuerySet[CopyEvent]:
    """Lead events this copy did not mirror (missed, sync failed, could not be mirrored), each
    with its reason, newest first."""
    return (
        copy.events.filter(kind__in=MISSED_KINDS)
        .select_related("lead_event__instrument")
        .order_by("-id")
    )


def copy_investment_events(*, copy: Copy) -> QuerySet[CopyEvent]:
    """Money in and out of the copy: the start, every Modify, and what the stop returned."""
    return copy.events.filter(kind__in=INVESTMENT_KINDS).order_by("-id")


@dataclass(frozen=True)
class MissedRow:
    event: CopyEvent
    why: list[str]


def missed_rows(events) -> list[MissedRow]:
    rows = []
    for e in events:
        inst = e.lead_event.instrument if e.lead_event_id else None
        if inst is not None and inst.kind == Instrument.Kind.SPOT:
            why = explain.sizing(e.explanation, base_asset=inst.base_asset, spot=True)
        else:
            why = explain.sizing(e.explanation)
        rows.append(MissedRow(event=e, why=why))
    return rows


@dataclass(frozen=True)
class CloseEstimate:
    """Closing one open position at market now (an estimate: the price moves)."""

    position: Position
    price: Decimal
    realized_pnl: Decimal
    fee: Decimal
    margin: Decimal
    # what the copy's free cash changes by: margin released + realized PnL - fee, within the
    # loss caps (negative when a cross loss is bigger than the margin) ...
    to_cash: Decimal
    cash_after: Decimal  # ... and the free cash after this close (never negative)
    # the last open position of a stopping copy: closing it stops the copy, profit share is
    # settled and everything left (about ``returned``) goes back to the main account
    stops_copy: bool = False
    returned: Decimal | None = None

    @property
    def from_cash(self) -> Decimal:
        """What the close takes out of the free cash beyond the margin (0 when it adds)."""
        return max(ZERO, -self.to_cash)


def _close_estimates(
    closing: list[Position], open_positions: list[Position], balance: Decimal
) -> list[CloseEstimate]:
    """Closing ``closing`` at market now, one after the other as a stop does, within the loss
    caps the real close applies (``positions.services.close_money``): an isolated close loses at
    most its margin, a cross close never takes the isolated margins nor more than the account
    holds. ``balance`` is the account's (cash + margins)."""
    if not closing:
        return []
    account = closing[0].account_id
    leaving = {p.pk for p in closing}
    floor = sum(
        (
            p.margin
            for p in open_positions
            if p.margin_mode == MarginMode.ISOLATED and p.pk not in leaving
        ),
        ZERO,
    )
    balances, floors = {account: balance}, {account: floor}
    margins = sum((p.margin for p in open_positions), ZERO)
    estimates = {}
    for position in booking_order(closing, lambda p: p.margin_mode):
        inst = position.instrument
        side = "sell" if position.side == "long" else "buy"
        price = venue_price(instrument=inst, side=side, reference=inst.price.price)
        spec = market_close_spec(
            position=position,
            instrument=inst,
            quantity=position.size,
            price=price,
            reason=Position.CloseReason.MANUAL,
        )
        row = {
            "account_id": account,
            "margin_mode": position.margin_mode,
            "margin": position.margin,
            "size": position.size,
        }
        money = close_money(spec, row, balances, floors)
        margins -= spec.margin_released
        estimates[position.pk] = CloseEstimate(
            position=position,
            price=price,
            realized_pnl=money.realized,
            fee=money.fee,
            margin=spec.margin_released,
            to_cash=spec.margin_released + money.account,
            cash_after=balances[account] - margins,
        )
    return [estimates[p.pk] for p in closing]  # booked cross last, listed as given


def copy_position_close_estimate(*, copy: Copy, position_id) -> CloseEstimate:
    """One open position of this copy and what closing it by hand now would realize."""
    try:
        pk = int(position_id)
    except (TypeError, ValueError):
        raise NotFound("No such open position in this copy.") from None
    open_positions = list(position_list(account_id=copy.account_id, status=Position.Status.OPEN))
    position = next((p for p in open_positions if p.pk == pk), None)
    if position is None:
        raise NotFound("No such open position in this copy.")
    balance = Account.objects.values_list("balance", flat=True).get(pk=copy.account_id)
    (estimate,) = _close_estimates([position], open_positions, balance)
    if copy.is_stopping and len(open_positions) == 1:
        stop = copy_stop_estimate(copy=copy)  # closing it is the stop: the same figures
        estimate = replace(estimate, stops_copy=True, returned=stop.returned)
    return estimate


@dataclass(frozen=True)
class StopEstimate:
    """Stop copying now, estimated at the current prices: every open position closes at
    market, profit share is settled on the result, everything left returns to main."""

    closes: list[CloseEstimate]
    balance: Decimal  # the copy account now (cash + margins)
    closes_result: Decimal  # sum of realized PnL - fees of the closes
    profit_share: Decimal
    returned: Decimal


def copy_stop_estimate(*, copy: Copy) -> StopEstimate:
    figures = copy_figures(copy)
    open_positions = list(position_list(account_id=copy.account_id, status=Position.Status.OPEN))
    closes = _close_estimates(open_positions, open_positions, figures.balance)
    result = sum((c.realized_pnl - c.fee for c in closes), ZERO)
    balance_after = figures.balance + result
    due = copy.profit_share_owed + profit_share_due(
        ratio=copy.profit_share_ratio,
        realized=figures.realized_pnl + result,
        high_water=copy.high_water_mark,
    )
    share = min(due, max(ZERO, balance_after))  # a settlement pays what the copy holds
    return StopEstimate(
        closes=closes,
        balance=figures.balance,
        closes_result=result,
        profit_share=share,
        returned=max(ZERO, balance_after - share),
    )


@dataclass(frozen=True)
class OngoingRow:
    """A lead position and how Copy Ongoing Positions would open it now (or miss it); for spot,
    a lead holding and how Buy Existing Assets would buy it (``margin``: the USDT it costs)."""

    instrument: str
    side: str
    margin_mode: str
    leverage: int
    lead_margin: Decimal  # spot: the holding's cost basis
    action: str  # open or miss
    size: Decimal  # contracts; spot: quantity of the asset
    price: Decimal
    margin: Decimal
    fee: Decimal
    reason: str
    why: list[str]
    # spot: the asset, the lead's quantity and its value now, and its weight in the lead's equity
    asset: str = ""
    lead_size: Decimal | None = None
    lead_value: Decimal | None = None
    weight: Decimal | None = None

    @property
    def spot(self) -> bool:
        return self.margin_mode == MarginMode.SPOT


@dataclass(frozen=True)
class StartPreview:
    """The copy wizard's figures for a Total Investment: what moves, what opens (spot: what is
    bought) now."""

    investment: Decimal
    main_available: Decimal
    main_after: Decimal  # main available once the investment moved
    short: bool  # the main account cannot fund it
    rows: list[OngoingRow]
    opens: int
    margin_total: Decimal  # spot: the USDT spent on the buys
    fee_total: Decimal
    cash_after: Decimal  # copy cash left after the ongoing opens (if they open)
    lead_positions: int  # spot: the lead's holdings
    market: str = Copy.Market.FUTURES


def main_available(*, user) -> Decimal:
    """What the user's main account can put into a copy (read only: creates nothing)."""
    return wallet_get(user=user)["available_usdt"]


def _weight(explanation: dict) -> Decimal | None:
    """The ratio the engine stored (an exact quotient, maybe cut with "…"), toward zero."""
    try:
        return usdt_down(Decimal(str(explanation.get("ratio") or "").rstrip("…")))
    except (InvalidOperation, ValueError):
        return None


def copy_start_preview(
    *,
    user,
    lead: LeadTrader,
    investment: Decimal,
    copy_ongoing_positions: bool = True,
    market: str = Copy.Market.FUTURES,
) -> StartPreview:
    """The wizard's preview through the engine ``copy_start`` uses (``engine.ongoing_intents``)
    on the lead account of ``market``: the same sizes, margins, fees and misses a start with
    Copy Ongoing Positions (spot: Buy Existing Assets, weights = holding value / lead spot
    equity) would have at the current prices. ``investment`` is an already validated amount."""
    available = main_available(user=user)
    spot = market == Copy.Market.SPOT
    planned = engine.ongoing_intents(
        lead_account_id=lead.spot_account_id if spot else lead.futures_account_id,
        copy_id=0,
        equity=investment,
        available=investment,
    )
    instruments = {
        pk: (name, cv, base)
        for pk, name, cv, base in Instrument.objects.filter(
            pk__in={lp.instrument_id for lp, _ in planned}
        ).values_list("pk", "name", "contract_value", "base_asset")
    }
    rows = []
    for lp, intent in planned:
        name, cv, base = instruments[lp.instrument_id]
        holding = lp.margin_mode == MarginMode.SPOT
        rows.append(
            OngoingRow(
                instrument=name,
                side=lp.side,
                margin_mode=lp.margin_mode,
                leverage=lp.leverage,
                lead_margin=lp.margin,
                action=intent.action,
                size=intent.size,
                price=intent.price,
                margin=intent.margin,
                fee=intent.fee,
                reason=intent.reason,
                why=explain.sizing(
                    intent.explanation,
                    contract_value=None if holding else cv,
                    base_asset=base,
                    preview=True,
                    spot=holding,
                ),
                asset=base,
                lead_size=lp.size,
                lead_value=(
                    usdt_down(exact(lp.size) * exact(lp.mark))
                    if holding and lp.mark is not None
                    else None
                ),
                weight=_weight(intent.explanation) if holding else None,
            )
        )
    opening = [r for r in rows if r.action == "open"] if copy_ongoing_positions else []
    margin_total = sum((r.margin for r in opening), ZERO)
    fee_total = sum((r.fee for r in opening), ZERO)
    return StartPreview(
        investment=investment,
        main_available=available,
        main_after=available - investment,
        short=available < investment,
        rows=rows,
        opens=len(opening),
        margin_total=margin_total,
        fee_total=fee_total,
        cash_after=investment - margin_total - fee_total,
        lead_positions=len(rows),
        market=market,
    )


@dataclass(frozen=True)
class ModifyLimits:
    """What Modify Total Investment allows now (SPEC §5.4)."""

    free: Decimal  # copy cash not in use by positions: the most a decrease can take out
    main_available: Decimal  # the most an increase can move in
    lowest: Decimal  # the lowest new total allowed now
    highest: Decimal  # the highest new total allowed now


def copy_modify_limits(*, copy: Copy, figures: CopyFigures, user) -> ModifyLimits:
    free = usdt_down(figures.available)
    available = main_available(user=user)
    minimum = settings.SMART_SYNC["MIN_INVESTMENT"]
    return ModifyLimits(
        free=free,
        main_available=available,
        lowest=max(minimum, copy.total_investment - free),
        highest=copy.total_investment + available,
    )


def copy_stop_returned(*, copy: Copy) -> Decimal:
    """What the stop of this copy returned to the main account (0 while it is active)."""
    amount = (
        copy.events.filter(kind__in=(CopyEvent.Kind.STOPPED, CopyEvent.Kind.LEAD_ENDED))
        .order_by("-id")
        .values_list("amount", flat=True)
        .first()
    )
    return amount or ZERO


@dataclass(frozen=True)
class InvestmentRow:
    """One movement between the main account and the copy, in words and as an amount."""

    event: CopyEvent
    direction: str  # "in" (main -> copy) or "out" (copy -> main)
    amount: Decimal  # always >= 0
    what: str


def investment_rows(events) -> list[InvestmentRow]:
    rows = []
    for e in events:
        amount = e.amount or ZERO
        if e.kind == CopyEvent.Kind.STARTED:
            rows.append(InvestmentRow(e, "in", amount, "Copy started"))
        elif e.kind == CopyEvent.Kind.INVESTMENT:
            what = e.reason or "Total Investment modified"
            rows.append(InvestmentRow(e, "in" if amount > 0 else "out", abs(amount), what))
        else:
            what = e.reason or e.get_kind_display()
            rows.append(InvestmentRow(e, "out", amount, f"{what}: everything left returned"))
    return rows
