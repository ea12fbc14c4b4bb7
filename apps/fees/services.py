"""Fees: profit sharing (SPEC §8) and funding (SPEC §4). Trading fees are booked with the trades
(apps.positions.services).

Profit sharing. R = a copy's cumulative net realized PnL (closed PnL - trading fees + funding);
H = its high-water mark, starting at 0; owed = what earlier settlements could not pay. At each
settlement:

    due        = owed + ratio x max(0, R - H), the second term rounded down
    paid       = min(due, the copy's free cash)       (never margin in use, never below zero)
    owed_after = due - paid                            (stop / lead ended: written off, 0)
    H          = max(H, R)

Invariants: the total paid <= ratio x the highest R ever reached (SPEC §11.6): every increase of
H adds its share to due exactly once, and nothing else does; what cannot be paid is owed (or, on
stop, written off and recorded so), never forgotten silently and never charged twice. Each
payment is one ledger entry copy -> the lead's main account keyed ``profit-share:<copy>:<n>``
(n = settlements of the copy so far); each settlement is a ``ProfitShareSettlement`` row.
Callers hold the copy row locks (level 4 of apps.core.locks) before the balances are read.

Funding. At 00:00, 08:00 and 16:00 UTC every perpetual position open at that time pays (long,
rate > 0) or receives (short) size x contract value x mark x rate, against the platform funding
pool, rounded toward zero. One round per (instrument, slot) (``FundingSettlement``, unique),
settled in chunks of accounts, each chunk one transaction that locks, in the order of
apps.core.locks, the round row (claim), the lead traders and copies owning the chunk's accounts
(levels 3 and 4), the positions (5) and, in the ledger, the accounts (6); then one statement
reads the positions, one ledger entry moves the money (``funding:<instrument>:<slot
ISO>:<chunk>``), one statement updates the positions. A retried or overlapping run resumes after
the last committed chunk, so every position pays once per round.

A user account never goes negative. Funding for an isolated position is paid from (or received
into) that position's margin, as on OKX; for cross positions from the account's cash and cross
margin, never from isolated margin. Whatever that cannot cover is a *shortfall*: recorded on the
round and on the copy's funding event, never charged later (docs/decisions/0008).

Imports: copies' services call the profit-share core here; the scheduled services here lock and
record Copy rows (copies.models), never copies' services.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from apps.accounts.models import Notification
from apps.accounts.services import notifications_create_bulk
from apps.copies.models import Copy, CopyEvent
from apps.core.bulk import bulk_insert, bulk_set
from apps.core.exceptions import ApplicationError
from apps.core.money import ZERO, exact, usdt_down
from apps.core.transactions import money_atomic
from apps.fees import notices
from apps.fees.models import FundingSettlement, ProfitShareSettlement
from apps.fees.selectors import copies_realized, profit_share_due
from apps.ledger.models import Account, JournalEntry
from apps.ledger.services import EntrySpec, account_main, account_system, ledger_post_batch
from apps.market.math import side_sign
from apps.market.models import Instrument, Price
from apps.positions.models import MarginMode, Position
from apps.positions.selectors import account_figures
from apps.traders.models import LeadTrader

log = logging.getLogger(__name__)

__all__ = [  # profit_share_due is defined with the reads (selectors) and used by copies too
    "funding_digest_notify",
    "funding_settle",
    "funding_slot",
    "profit_share_due",
    "profit_share_settle_active",
    "profit_share_settle_many",
]

CHUNK = 1000  # accounts (funding) or copies (profit share) per transaction
# Settlements whose unpaid part is written off instead of owed: the copy's cash goes home.
WRITE_OFF_TRIGGERS = (ProfitShareSettlement.Trigger.STOP, ProfitShareSettlement.Trigger.LEAD_ENDED)
# A weekly run skips copies settled weekly this recently: a redelivered or overlapping run of
# the same schedule settles each copy once (the schedule itself is at least daily in practice).
WEEKLY_REPEAT_GUARD = timedelta(hours=1)


def _lock(queryset, *fields: str) -> list:
    """Lock the rows of ``queryset`` in primary-key order (as ``apps.core.locks.lock_rows``),
    with FOR NO KEY UPDATE: it excludes every other locker and writer of those rows (FOR UPDATE,
    FOR NO KEY UPDATE, UPDATE) but not the FOR KEY SHARE that PostgreSQL's deferred foreign-key
    checks take at commit. A transaction that merely references a row we hold (a copy stop
    whose rows point at the lead trader) then never waits on us at its COMMIT, which would put
    it behind a later lock level than the ones it holds. Returns pks, or ``fields`` tuples."""
    qs = queryset.select_for_update(of=("self",), no_key=True).order_by("pk")
    if not fields:
        return list(qs.values_list("pk", flat=True))
    return list(qs.values_list(*fields))


# --- profit sharing -------------------------------------------------------------------------
@dataclass(frozen=True)
class _Share:
    realized: Decimal
    owed_before: Decimal
    due: Decimal
    paid: Decimal
    owed_after: Decimal
    written_off: Decimal
    high_water_after: Decimal


def _share_plan(copy: Copy, realized: Decimal, free: Decimal, *, write_off: bool) -> _Share:
    due = profit_share_due(
        ratio=copy.profit_share_ratio,
        realized=realized,
        high_water=copy.high_water_mark,
        owed=copy.profit_share_owed,
    )
    paid = min(due, max(ZERO, usdt_down(free)))
    rest = due - paid
    return _Share(
        realized=realized,
        owed_before=copy.profit_share_owed,
        due=due,
        paid=paid,
        owed_after=ZERO if write_off else rest,
        written_off=rest if write_off else ZERO,
        high_water_after=max(copy.high_water_mark, realized),
    )


def profit_share_settle_many(
    *,
    copies: Sequence[Copy],
    realized: dict[int, Decimal],
    trigger: str,
    notify_leads: bool = True,
) -> dict[int, Decimal]:
    """Settle many copies at once, inside the caller's transaction. ``copies`` are Copy rows the
    caller has locked (level 4); ``realized`` maps copy pk -> R. Returns copy pk -> paid.

    Free cash is the copy's ``available`` (cash not allocated as margin, less unrealized cross
    losses): a settlement never takes margin in use and never makes a balance negative. With
    trigger ``stop`` or ``lead_ended`` what cannot be paid is written off (recorded as
    ``due - share - owed_after`` on the settlement); otherwise it is owed
    (``Copy.profit_share_owed``) and paid first next time. The copies' new high-water mark,
    paid total and owed amount are set on the given objects and written here, except that with
    ``stop`` / ``lead_ended`` the caller (copies' stop, which updates the row anyway) saves the
    mark and the paid total: only a written-off debt is written here then.

    Statements, whatever the number of copies: figures (2), settlement counts, lead rows, lead
    main accounts, the ledger batch, the settlement rows, the copy rows, events, notices."""
    assert connection.in_atomic_block, "profit_share_settle_many runs inside a transaction"
    if not copies:
        return {}
    write_off = trigger in WRITE_OFF_TRIGGERS
    figures = account_figures([c.account_id for c in copies])
    plans = {
        c.pk: _share_plan(
            c, realized.get(c.pk, ZERO), figures[c.account_id].available, write_off=write_off
        )
        for c in copies
    }
    leads = {
        pk: (user_id, nickname)
        for pk, user_id, nickname in LeadTrader.objects.filter(
            pk__in={c.lead_id for c in copies}
        ).values_list("pk", "user_id", "nickname")
    }
    keys = _share_post(copies, plans, leads)
    _share_record(copies, plans, keys, trigger)
    _share_notify(copies, plans, leads, trigger, notify_leads=notify_leads)
    return {pk: p.paid for pk, p in plans.items()}


def _share_post(
    copies: Sequence[Copy], plans: dict[int, _Share], leads: dict[int, tuple[int, str]]
) -> dict[int, int]:
    """One ledger entry per copy that pays something; returns copy pk -> entry id."""
    counts = dict(
        ProfitShareSettlement.objects.filter(copy_id__in=[c.pk for c in copies])
        .values("copy_id")
        .annotate(n=Count("id"))
        .values_list("copy_id", "n")
    )
    payers = [c for c in copies if plans[c.pk].paid > 0]
    if not payers:
        return {}
    lead_users = {leads[c.lead_id][0] for c in payers}
    mains = dict(
        Account.objects.filter(kind=Account.Kind.MAIN, owner_id__in=lead_users).values_list(
            "owner_id", "pk"
        )
    )
    for user in get_user_model().objects.filter(pk__in=lead_users - mains.keys()):
        mains[user.pk] = account_main(user=user).pk
    specs = {
        c.pk: EntrySpec(
            key=f"profit-share:{c.pk}:{counts.get(c.pk, 0) + 1}",
            kind=JournalEntry.Kind.PROFIT_SHARE,
            postings=(
                (c.account_id, -plans[c.pk].paid),
                (mains[leads[c.lead_id][0]], plans[c.pk].paid),
            ),
            memo=f"profit share copy {c.pk}",
        )
        for c in payers
    }
    ids = ledger_post_batch(list(specs.values()))
    return {pk: ids[spec.key] for pk, spec in specs.items()}


def _share_record(
    copies: Sequence[Copy], plans: dict[int, _Share], entries: dict[int, int], trigger: str
) -> None:
    """The settlement rows, the copies' new mark / paid / owed, and a history line for each
    copy that had something due."""
    bulk_insert(
        ProfitShareSettlement,
        [
            {
                "copy_id": c.pk,
                "trigger": trigger,
                "realized": plans[c.pk].realized,
                "high_water_before": c.high_water_mark,
                "high_water_after": plans[c.pk].high_water_after,
                "ratio": c.profit_share_ratio,
                "due": plans[c.pk].due,
                "share": plans[c.pk].paid,
                "owed_after": plans[c.pk].owed_after,
                "entry_id": entries.get(c.pk),
            }
            for c in copies
        ],
        returning=None,
    )
    events = []
    for c in copies:
        p = plans[c.pk]
        if p.due > 0:
            events.append(
                {
                    "copy_id": c.pk,
                    "kind": CopyEvent.Kind.PROFIT_SHARE,
                    "amount": -p.paid,
                    "reason": notices.profit_share_reason(
                        ratio=c.profit_share_ratio,
                        paid=p.paid,
                        owed_after=p.owed_after,
                        written_off=p.written_off,
                    ),
                    "explanation": {
                        "trigger": trigger,
                        "realized": str(p.realized),
                        "high_water_before": str(c.high_water_mark),
                        "high_water_after": str(p.high_water_after),
                        "owed_before": str(p.owed_before),
                        "due": str(p.due),
                        "paid": str(p.paid),
                        "owed_after": str(p.owed_after),
                        "written_off": str(p.written_off),
                    },
                }
            )
    changed = []
    for c in copies:
        p = plans[c.pk]
        if (p.high_water_after, p.paid, p.owed_after) != (c.high_water_mark, ZERO, p.owed_before):
            changed.append(c)
        c.high_water_mark = p.high_water_after
        c.profit_share_paid += p.paid
        c.profit_share_owed = p.owed_after
    if trigger in WRITE_OFF_TRIGGERS:
        # The stop paths update the copy row once more (status, mark, paid) in this transaction;
        # a second UPDATE of a row makes PostgreSQL re-check its foreign keys at commit (FOR KEY
        # SHARE on the lead trader row, a lower lock level than the copy's). So only a debt
        # being written off is written here; the caller saves the mark and the paid total.
        changed = [c for c in changed if plans[c.pk].owed_before != plans[c.pk].owed_after]
    bulk_set(
        Copy,
        [
            {
                "id": c.pk,
                "high_water_mark": c.high_water_mark,
                "profit_share_paid": c.profit_share_paid,
                "profit_share_owed": c.profit_share_owed,
            }
            for c in changed
        ],
        ["high_water_mark", "profit_share_paid", "profit_share_owed"],
    )
    bulk_insert(CopyEvent, events, returning=None)


def _share_notify(
    copies: Sequence[Copy],
    plans: dict[int, _Share],
    leads: dict[int, tuple[int, str]],
    trigger: str,
    *,
    notify_leads: bool,
) -> None:
    """The follower hears of every payment, of a new debt and of a write-off; each lead gets
    one notice summing what this call paid them."""
    rows = []
    for c in copies:
        p = plans[c.pk]
        if p.paid > 0 or p.written_off > 0 or p.owed_after > p.owed_before:
            rows.append(
                notices.profit_share_follower(
                    user_id=c.follower_id,
                    copy_id=c.pk,
                    nickname=leads[c.lead_id][1],
                    trigger=trigger,
                    paid=p.paid,
                    owed_after=p.owed_after,
                    written_off=p.written_off,
                )
            )
    if notify_leads:
        totals = lead_share_totals(copies, {pk: p.paid for pk, p in plans.items()})
        rows += [
            notices.profit_share_lead(user_id=leads[lead][0], trigger=trigger, total=t, copies=n)
            for lead, (t, n) in totals.items()
        ]
    notifications_create_bulk(rows=rows)


def lead_share_totals(
    copies: Sequence[Copy], paid: dict[int, Decimal]
) -> dict[int, tuple[Decimal, int]]:
    """lead pk -> (total paid to them, copies that paid)."""
    totals: dict[int, tuple[Decimal, int]] = {}
    for c in copies:
        if paid[c.pk] > 0:
            t, n = totals.get(c.lead_id, (ZERO, 0))
            totals[c.lead_id] = (t + paid[c.pk], n + 1)
    return totals


def profit_share_settle_active(
    *, trigger: str = ProfitShareSettlement.Trigger.WEEKLY, chunk_size: int = CHUNK, now=None
) -> int:
    """Settle every active copy (the weekly beat task, and operators' "settle now"). Returns how
    many copies were settled.

    Chunks of ``chunk_size`` copies in id order, each its own transaction: lock the copies
    (level 4), compute R, settle (``profit_share_settle_many``). A weekly run skips copies that
    already have a weekly settlement from the last ``WEEKLY_REPEAT_GUARD`` (checked again under
    the lock), so a redelivered or overlapping run settles each copy once. Each lead gets one
    notice for the whole run."""
    if trigger not in (
        ProfitShareSettlement.Trigger.WEEKLY,
        ProfitShareSettlement.Trigger.OPERATOR,
    ):
        raise ValueError(f"not a scheduled profit-share trigger: {trigger!r}")
    now = now or timezone.now()
    settled, after = 0, 0
    earned: dict[int, tuple[Decimal, int]] = defaultdict(lambda: (ZERO, 0))
    while True:
        with money_atomic():
            chunk = _share_chunk_lock(trigger, after, chunk_size, now)
            if chunk is None:
                break
            copies, after = chunk
            if not copies:
                continue
            realized = copies_realized(copies)
            paid = profit_share_settle_many(
                copies=copies, realized=realized, trigger=trigger, notify_leads=False
            )
            for lead, (t, n) in lead_share_totals(copies, paid).items():
                t0, n0 = earned[lead]
                earned[lead] = (t0 + t, n0 + n)
            settled += len(copies)
    _share_notify_leads(earned, trigger)
    return settled


def _share_chunk_lock(trigger: str, after: int, size: int, now) -> tuple[list[Copy], int] | None:
    """The next chunk of active copies after id ``after``, locked; None when none remain."""
    qs = Copy.objects.filter(status=Copy.Status.ACTIVE)
    if trigger == ProfitShareSettlement.Trigger.WEEKLY:
        qs = qs.exclude(
            Exists(
                ProfitShareSettlement.objects.filter(
                    copy=OuterRef("pk"),
                    trigger=ProfitShareSettlement.Trigger.WEEKLY,
                    created_at__gte=now - WEEKLY_REPEAT_GUARD,
                )
            )
        )
    ids = list(qs.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:size])
    if not ids:
        return None
    locked = _lock(qs.filter(pk__in=ids))  # re-checked under the lock: active, not yet settled
    return list(Copy.objects.filter(pk__in=locked).order_by("pk")), ids[-1]


def _share_notify_leads(earned: dict[int, tuple[Decimal, int]], trigger: str) -> None:
    if not earned:
        return
    users = dict(LeadTrader.objects.filter(pk__in=earned).values_list("pk", "user_id"))
    with money_atomic():
        notifications_create_bulk(
            rows=[
                notices.profit_share_lead(user_id=users[lead], trigger=trigger, total=t, copies=n)
                for lead, (t, n) in earned.items()
            ]
        )


# --- funding --------------------------------------------------------------------------------


def funding_slot(at: datetime | None = None) -> datetime:
    """The latest funding time (00:00, 08:00 or 16:00 UTC) at or before ``at`` (default now)."""
    at = (at or timezone.now()).astimezone(UTC)
    return at.replace(hour=at.hour - at.hour % 8, minute=0, second=0, microsecond=0)


def _slot_validate(slot: datetime) -> datetime:
    if timezone.is_naive(slot):
        raise ApplicationError("A funding slot needs a time zone.", code="invalid_slot")
    slot = slot.astimezone(UTC)
    if slot != funding_slot(slot):
        raise ApplicationError(
            "Funding is settled at 00:00, 08:00 and 16:00 UTC only.",
            code="invalid_slot",
            fields={"slot": "00:00, 08:00 or 16:00 UTC."},
        )
    if slot > timezone.now():
        raise ApplicationError(
            "That funding time has not come yet.", code="invalid_slot", fields={"slot": "Past."}
        )
    return slot


def funding_change(
    *, side: str, size: Decimal, contract_value: Decimal, mark: Decimal, rate: Decimal
) -> Decimal:
    """What one position's account gains (+) or pays (-) in one round: -side x size x contract
    value x mark x rate, one exact product rounded toward zero (SPEC §3)."""
    value = -exact(side_sign(side)) * exact(size) * exact(contract_value) * exact(mark)
    return usdt_down(value * exact(rate))


@dataclass
class FundingRun:
    slot: datetime
    settled: list[FundingSettlement] = field(default_factory=list)  # completed by this call
    already: list[FundingSettlement] = field(default_factory=list)  # completed before it


def funding_settle(*, slot: datetime | None = None, chunk_size: int = CHUNK) -> FundingRun:
    """Settle one funding time (default: the latest one) for every perpetual with a price that
    has not been settled for it. Safe to run twice or concurrently: every position pays once.

    Which positions: open ones of the instrument opened at or before the slot (a position
    opened after the funding time did not hold it). Rate and mark are the instrument's when the
    round opens; they stay the round's terms for every chunk."""
    slot = funding_slot() if slot is None else _slot_validate(slot)
    run = FundingRun(slot=slot)
    for inst in Instrument.objects.filter(kind=Instrument.Kind.PERPETUAL).order_by("pk"):
        rnd = _round_open(inst, slot)
        if rnd is None:
            continue
        if rnd.completed_at is not None:
            run.already.append(rnd)
            continue
        while _round_chunk(rnd.pk, chunk_size):
            pass
        rnd.refresh_from_db()
        run.settled.append(rnd)
    return run


def _round_open(inst: Instrument, slot: datetime) -> FundingSettlement | None:
    terms = Price.objects.filter(instrument=inst).values_list("price", "funding_rate").first()
    if terms is None:
        log.debug("funding %s %s: no price, nothing to settle", inst.name, slot)
        return None
    with money_atomic():
        rnd, _ = FundingSettlement.objects.get_or_create(
            instrument=inst, slot=slot, defaults={"mark": terms[0], "rate": terms[1]}
        )
    return rnd


@dataclass
class _Row:
    id: int
    account_id: int
    side: str
    margin_mode: str
    size: Decimal
    margin: Decimal
    funding: Decimal
    balance: Decimal


@dataclass
class _FundingPlan:
    """One chunk's outcome: per position its change and new margin; per account its due,
    change and shortfall."""

    positions: list[dict] = field(default_factory=list)  # id, funding, margin (changed rows)
    due: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    change: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    shortfall: dict[int, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    paid: Decimal = ZERO
    received: Decimal = ZERO
    count: int = 0


def _round_chunk(round_id: int, size: int) -> bool:
    """Settle the next chunk of accounts of a round in one transaction; False when done."""
    with money_atomic():
        rnd = (
            FundingSettlement.objects.select_for_update(of=("self",))
            .select_related("instrument")
            .get(pk=round_id)
        )  # the claim: runs of the same round take chunks one after another
        if rnd.completed_at is not None:
            return False
        accounts = _chunk_accounts(rnd, size)
        if not accounts:
            rnd.completed_at = timezone.now()
            rnd.save(update_fields=["completed_at"])
            return False
        copies = _lock_owners(accounts)
        rows = _positions_locked(rnd, accounts)
        plan = _funding_plan(rnd, rows, _isolated_margins(accounts))
        entry_id = _funding_post(rnd, plan)
        bulk_set(Position, plan.positions, ["funding", "margin"])
        _funding_events(rnd, plan, copies)
        _round_progress(rnd, plan, accounts[-1], entry_id)
    return True


def _chunk_accounts(rnd: FundingSettlement, size: int) -> list[int]:
    return list(
        Position.objects.filter(
            instrument_id=rnd.instrument_id,
            status=Position.Status.OPEN,
            opened_at__lte=rnd.slot,
            account_id__gt=rnd.accounts_through,
        )
        .order_by("account_id")
        .values_list("account_id", flat=True)
        .distinct()[:size]
    )


def _lock_owners(accounts: list[int]) -> dict[int, int]:
    """Levels 3 and 4: the lead traders and the copies owning these accounts, in pk order, so
    funding never interleaves with a lead trade, a mirror, a stop or a manual close. Returns
    copy account id -> copy pk."""
    _lock(LeadTrader.objects.filter(futures_account_id__in=accounts))
    return {
        account_id: pk
        for pk, account_id in _lock(
            Copy.objects.filter(account_id__in=accounts), "pk", "account_id"
        )
    }


def _positions_locked(rnd: FundingSettlement, accounts: list[int]) -> list[_Row]:
    """Level 5, one statement: the round's positions in these accounts, with their balances."""
    return [
        _Row(*r)
        for r in Position.objects.filter(
            instrument_id=rnd.instrument_id,
            status=Position.Status.OPEN,
            opened_at__lte=rnd.slot,
            account_id__in=accounts,
        )
        .select_for_update(of=("self",), no_key=True)
        .order_by("account_id", "pk")
        .values_list(
            "id",
            "account_id",
            "side",
            "margin_mode",
            "size",
            "margin",
            "funding",
            "account__balance",
        )  # fmt: skip
    ]


def _isolated_margins(accounts: list[int]) -> dict[int, Decimal]:
    """Per account, the margin of all its open isolated positions (any instrument): cross
    funding may not take it."""
    out: dict[int, Decimal] = defaultdict(Decimal)
    for acc, margin in Position.objects.filter(
        account_id__in=accounts, status=Position.Status.OPEN, margin_mode=MarginMode.ISOLATED
    ).values_list("account_id", "margin"):
        out[acc] += margin
    return out


def _funding_plan(
    rnd: FundingSettlement, rows: list[_Row], isolated: dict[int, Decimal]
) -> _FundingPlan:
    """Receipts first, then payments, each account on its own: an isolated position pays from
    its margin, a cross one from the account's cash and cross margin; nothing pays more than
    its account holds. What cannot be paid is the shortfall."""
    plan = _FundingPlan()
    cv = rnd.instrument.contract_value
    by_account: dict[int, list[_Row]] = defaultdict(list)
    for r in rows:
        by_account[r.account_id].append(r)
    for acc, positions in by_account.items():
        balance = positions[0].balance
        free = balance - isolated.get(acc, ZERO)  # cash + cross margin
        dues = {
            p.id: funding_change(
                side=p.side, size=p.size, contract_value=cv, mark=rnd.mark, rate=rnd.rate
            )
            for p in positions
        }
        moved: dict[int, Decimal] = {}
        for p in positions:  # receipts
            if dues[p.id] > 0:
                moved[p.id] = dues[p.id]
                balance += dues[p.id]
                if p.margin_mode == MarginMode.ISOLATED:
                    p.margin += dues[p.id]
                else:
                    free += dues[p.id]
        for p in positions:  # payments
            if dues[p.id] < 0:
                room = p.margin if p.margin_mode == MarginMode.ISOLATED else max(ZERO, free)
                pay = min(-dues[p.id], room, max(ZERO, balance))
                moved[p.id] = -pay
                balance -= pay
                if p.margin_mode == MarginMode.ISOLATED:
                    p.margin -= pay
                else:
                    free -= pay
                plan.shortfall[acc] += -dues[p.id] - pay
        for p in positions:
            plan.count += 1
            plan.due[acc] += dues[p.id]
            m = moved.get(p.id, ZERO)
            if m:
                plan.change[acc] += m
                plan.positions.append({"id": p.id, "funding": p.funding + m, "margin": p.margin})
                if m > 0:
                    plan.received += m
                else:
                    plan.paid -= m
    return plan


def _funding_post(rnd: FundingSettlement, plan: _FundingPlan) -> int | None:
    """One ledger entry for the chunk: a posting per account (netted), one for the pool."""
    postings = [(acc, amt) for acc, amt in sorted(plan.change.items()) if amt]
    if not postings:
        return None
    pool = sum((amt for _, amt in postings), ZERO)
    if pool:
        postings.append((account_system(Account.Kind.FUNDING_POOL).pk, -pool))
    key = f"funding:{rnd.instrument.name}:{rnd.slot.isoformat()}:{rnd.chunks + 1}"
    ids = ledger_post_batch(
        [
            EntrySpec(
                key=key,
                kind=JournalEntry.Kind.FUNDING,
                postings=tuple(postings),
                memo=f"funding {rnd.instrument.name} {rnd.slot:%Y-%m-%d %H:%M} UTC "
                f"at {notices.rate_text(rnd.rate)}",
            )
        ]
    )
    return ids[key]


def _funding_events(rnd: FundingSettlement, plan: _FundingPlan, copies: dict[int, int]) -> None:
    """A history line per copy with funding due this round (the amount is what moved)."""
    events = []
    for acc, copy_pk in copies.items():
        due, moved, short = (
            plan.due.get(acc, ZERO),
            plan.change.get(acc, ZERO),
            plan.shortfall.get(acc, ZERO),
        )
        if not due:
            continue
        events.append(
            {
                "copy_id": copy_pk,
                "kind": CopyEvent.Kind.FUNDING,
                "amount": moved,
                "reason": notices.funding_reason(
                    instrument=rnd.instrument.name,
                    slot=rnd.slot,
                    rate=rnd.rate,
                    change=moved,
                    shortfall=short,
                ),
                "explanation": {
                    "instrument": rnd.instrument.name,
                    "slot": rnd.slot.isoformat(),
                    "rate": str(rnd.rate),
                    "mark": str(rnd.mark),
                    "due": str(due),
                    "moved": str(moved),
                    "shortfall": str(short),
                },
            }
        )
    bulk_insert(CopyEvent, events, returning=None)


def _round_progress(
    rnd: FundingSettlement, plan: _FundingPlan, through: int, entry_id: int | None
) -> None:
    rnd.positions += plan.count
    rnd.paid_by_users += plan.paid
    rnd.received_by_users += plan.received
    rnd.shortfall += sum(plan.shortfall.values(), ZERO)
    rnd.chunks += 1
    rnd.accounts_through = through
    if rnd.entry_id is None:
        rnd.entry_id = entry_id
    rnd.save(
        update_fields=[
            "positions",
            "paid_by_users",
            "received_by_users",
            "shortfall",
            "chunks",
            "accounts_through",
            "entry",
        ]
    )


def funding_digest_notify(*, day: date, chunk_size: int = CHUNK) -> int:
    """One "funding" notification per follower for ``day`` (UTC), summing what their copies'
    positions paid and received that day. At most one per (user, day): users are locked (level
    2) and those already told are skipped, so a repeated or overlapping run adds nothing.
    Returns the notifications written."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    sums: dict[int, list] = {}
    for user_id, copy_id, amount in CopyEvent.objects.filter(
        kind=CopyEvent.Kind.FUNDING, created_at__gte=start, created_at__lt=start + timedelta(1)
    ).values_list("copy__follower_id", "copy_id", "amount"):
        paid, received, copies = sums.setdefault(user_id, [ZERO, ZERO, set()])
        amount = amount or ZERO
        sums[user_id] = [paid - min(amount, ZERO), received + max(amount, ZERO), copies]
        copies.add(copy_id)
    users = sorted(u for u, (p, r, _) in sums.items() if p or r)
    written = 0
    for i in range(0, len(users), chunk_size):
        part = users[i : i + chunk_size]
        with money_atomic():
            _lock(get_user_model().objects.filter(pk__in=part))
            told = set(
                Notification.objects.filter(
                    user_id__in=part, kind=Notification.Kind.FUNDING, data__funding_day=str(day)
                ).values_list("user_id", flat=True)
            )
            written += notifications_create_bulk(
                rows=[
                    notices.funding_digest(
                        user_id=u,
                        day=day,
                        paid=sums[u][0],
                        received=sums[u][1],
                        copies=len(sums[u][2]),
                    )
                    for u in part
                    if u not in told
                ]
            )
    return written
