"""Ledger writes: the only way money moves (SPEC §3).

Invariants:
- Every movement is one ``JournalEntry`` whose postings sum to exactly zero, with at least two
  postings, no zero amount and every amount already exact to 8 places. Nothing here rounds:
  callers round with ``apps.core.money`` and an unrounded amount is refused (ValueError).
- Postings on the same account within one entry are merged into their net amount (a leg that
  nets to zero disappears). An entry therefore records the net movement per account; a caller
  that wants a fee visible apart from a PnL posts two entries with their own kinds and keys.
- ``idempotency_key`` is unique in the database. Posting a key again with the same kind and the
  same (account, amount) postings returns the existing entry and moves nothing; with anything
  else it raises ``Conflict(code="idempotency_conflict")``. The memo is not compared.
- Accounts are locked with one ``SELECT ... FOR UPDATE ORDER BY id`` before anything is
  written; balances change only with ``balance = balance + delta`` (``bulk_increment``) on
  those locked rows. (SQLite, for ``make run`` only, gets the exact new values instead: its
  NUMERIC arithmetic is binary floating point, and its transactions are serializable.)
- A user-owned account (main, copy, lead) never goes negative: checked under the lock before
  writing (``InsufficientFunds``) and backed by a CHECK constraint, whose violation is turned
  into ``InsufficientFunds`` too. Platform accounts may go negative (the external world, the
  market and the pools are counterparties, not wallets).
- Entries are append-only (a PostgreSQL trigger enforces it); corrections are reversal entries.

Transactions: ``ledger_post`` (and the services built on it) opens its own
``transaction.atomic(durable=True)`` when called outside any transaction. Inside a caller's
atomic block it joins it through a savepoint: the caller is a top-level money service that owns
the durable transaction and its locks, and the savepoint lets a refused post leave the
caller's transaction usable. ``ledger_post_batch`` must always run inside the caller's
transaction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from django.db import IntegrityError, connection, transaction

from apps.core.bulk import bulk_increment, bulk_insert, bulk_set
from apps.core.exceptions import Conflict, InsufficientFunds, NotFound
from apps.core.inputs import parse_decimal
from apps.core.locks import for_update
from apps.core.money import USDT_PLACES, ZERO, fmt_amount, to_decimal
from apps.ledger.models import Account, JournalEntry, Posting

T = TypeVar("T")

# MoneyField is numeric(28, 8): at most 20 digits before the point.
_MAX_ABS = Decimal(10) ** (28 - USDT_PLACES)
_KEY_MAX = JournalEntry._meta.get_field("idempotency_key").max_length
_BALANCE_CONSTRAINT = "ledger_account_user_balance_non_negative"
# Unique columns that two concurrent transactions can both try to fill.
_RACE_COLUMNS = ("idempotency_key", "reverses_id")


@dataclass(frozen=True)
class EntrySpec:
    """One journal entry to post. ``postings`` are (account id, signed amount): a positive
    amount credits (increases) the account's balance, a negative one debits it."""

    key: str
    kind: str
    postings: tuple[tuple[int, Decimal], ...]
    memo: str = ""


# --- accounts ----------------------------------------------------------------------------


def account_system(kind: str) -> Account:
    """The single platform account of ``kind`` (code == kind), created on first use."""
    if kind not in Account.SYSTEM_KINDS:
        raise ValueError(f"{kind!r} is not a platform account kind")
    account, _ = Account.objects.get_or_create(code=str(kind), defaults={"kind": kind})
    return account


def account_main(*, user) -> Account:
    """The user's main account (code ``main:<user id>``), created on first use."""
    account, _ = Account.objects.get_or_create(
        code=f"main:{user.pk}", defaults={"kind": Account.Kind.MAIN, "owner": user}
    )
    return account


def account_create(*, kind: str, owner, code: str) -> Account:
    """Create a user-owned account (copy, lead futures, lead spot; main via ``account_main``).

    Idempotent on ``code``: calling again with the same kind and owner returns the existing
    account (a retried copy start must not fail); the same code with another kind or owner
    raises ``Conflict(code="account_code_taken")``."""
    if kind not in Account.USER_KINDS:
        raise ValueError(f"{kind!r} is not a user account kind")
    if owner is None:
        raise ValueError("a user account needs an owner")
    account, created = Account.objects.get_or_create(
        code=code, defaults={"kind": kind, "owner": owner}
    )
    if not created and (account.kind != kind or account.owner_id != owner.pk):
        raise Conflict(
            f"Ledger account code {code!r} already belongs to another account.",
            code="account_code_taken",
        )
    return account


# --- validation --------------------------------------------------------------------------


def _exact_amount(value: object) -> Decimal:
    """A posting amount as given, refused unless it is exact to 8 places and fits the column.
    Refusing (not rounding) keeps every rounding decision in the caller, via apps.core.money."""
    amount = to_decimal(value)
    if amount.normalize().as_tuple().exponent < -USDT_PLACES:
        raise ValueError(f"amount {amount} has more than {USDT_PLACES} decimal places")
    if abs(amount) >= _MAX_ABS:
        raise ValueError(f"amount {amount} is too large")
    return amount


def _normalize(
    *, key: str, kind: str, postings: Iterable[tuple[Account | int, object]], memo: str
) -> EntrySpec:
    if not isinstance(key, str) or not key.strip():
        raise ValueError("an idempotency key is required")
    if len(key) > _KEY_MAX:
        raise ValueError(f"idempotency key longer than {_KEY_MAX} characters")
    if kind not in JournalEntry.Kind.values:
        raise ValueError(f"unknown journal entry kind {kind!r}")
    merged: dict[int, Decimal] = defaultdict(Decimal)
    count = 0
    for account, raw in postings:
        account_id = account.pk if isinstance(account, Account) else int(account)
        amount = _exact_amount(raw)
        if amount == 0:
            raise ValueError(f"entry {key!r}: a posting of zero moves nothing")
        merged[account_id] += amount
        count += 1
    if count < 2:
        raise ValueError(f"entry {key!r}: an entry needs at least two postings")
    total = sum(merged.values(), ZERO)
    if total != 0:
        raise ValueError(f"entry {key!r}: postings sum to {total}, not zero")
    legs = tuple(sorted((a, amt) for a, amt in merged.items() if amt != 0))
    if len(legs) < 2:
        raise ValueError(f"entry {key!r}: postings net to nothing on fewer than two accounts")
    return EntrySpec(key=key, kind=str(kind), postings=legs, memo=(memo or "")[:255])


# --- the one mechanism -------------------------------------------------------------------


def _in_caller_transaction() -> bool:
    """True inside an atomic block opened by our code. The test case's own wrapping blocks
    don't count: Django lets a durable block open inside them, so tests exercise the real
    top-level path (the same rule as Django's own durable check)."""
    blocks = connection.atomic_blocks
    return bool(blocks) and not blocks[-1]._from_testcase


def _insufficient(rows: list[tuple[str, str, Decimal, Decimal]]) -> InsufficientFunds:
    code, kind, balance, delta = rows[0]
    label = Account.Kind(kind).label
    more = f" (and {len(rows) - 1} more accounts)" if len(rows) > 1 else ""
    return InsufficientFunds(
        f"Insufficient funds in {label} {code}: balance {fmt_amount(balance)} USDT, "
        f"this movement needs {fmt_amount(-delta)} USDT{more}."
    )


def _post_specs(
    specs: Sequence[EntrySpec], reverses: Mapping[str, int]
) -> tuple[dict[str, int], dict[int, Decimal]]:
    """Post normalized specs with unique keys inside the current transaction, in a constant
    number of statements. Returns (key -> entry id, account id -> balance after) where the
    balances cover only accounts that this call moved."""
    # Lock first, then look for existing keys: a concurrent post of the same key waits here
    # and then sees the committed entry instead of colliding on the unique index.
    locked = _lock_accounts(sorted({a for s in specs for a, _ in s.postings}))
    result, new = _split_existing(specs, reverses)
    if not new:
        return result, {}
    deltas: dict[int, Decimal] = defaultdict(Decimal)
    for spec in new:
        for account_id, amount in spec.postings:
            deltas[account_id] += amount
    after = _balances_after(locked, deltas)
    result.update(_insert_entries(new, reverses))
    _write_balances(deltas, after)
    return result, after


def _lock_accounts(account_ids: list[int]) -> dict[int, tuple[str, str, Decimal]]:
    """Level 6 of apps.core.locks: every account of the batch, in pk order."""
    locked = {
        pk: (code, kind, balance)
        for pk, code, kind, balance in for_update(Account.objects)
        .filter(pk__in=account_ids)
        .order_by("id")
        .values_list("id", "code", "kind", "balance")
    }
    missing = set(account_ids) - locked.keys()
    if missing:
        raise ValueError(f"unknown ledger accounts: {sorted(missing)}")
    return locked


def _split_existing(
    specs: Sequence[EntrySpec], reverses: Mapping[str, int]
) -> tuple[dict[str, int], list[EntrySpec]]:
    """Keys already posted (identical: their entry ids; different: Conflict) and the new specs."""
    existing: dict[str, tuple[int, str, int | None, list[tuple[int, Decimal]]]] = {}
    for entry_id, key, kind, reverses_id, account_id, amount in Posting.objects.filter(
        entry__idempotency_key__in=[s.key for s in specs]
    ).values_list(
        "entry_id",
        "entry__idempotency_key",
        "entry__kind",
        "entry__reverses_id",
        "account_id",
        "amount",
    ):
        existing.setdefault(key, (entry_id, kind, reverses_id, []))[3].append((account_id, amount))
    result: dict[str, int] = {}
    new: list[EntrySpec] = []
    for spec in specs:
        found = existing.get(spec.key)
        if found is None:
            new.append(spec)
            continue
        entry_id, kind, reverses_id, legs = found
        if (kind, reverses_id, tuple(sorted(legs))) != (
            spec.kind,
            reverses.get(spec.key),
            spec.postings,
        ):
            raise Conflict(
                f"Idempotency key {spec.key!r} was already used for a different movement "
                f"(entry #{entry_id}).",
                code="idempotency_conflict",
            )
        result[spec.key] = entry_id
    return result, new


def _balances_after(
    locked: dict[int, tuple[str, str, Decimal]], deltas: dict[int, Decimal]
) -> dict[int, Decimal]:
    """Each moved account's balance after the batch; refuses if a user account goes negative."""
    after: dict[int, Decimal] = {}
    short = []
    for account_id in sorted(deltas):
        code, kind, balance = locked[account_id]
        after[account_id] = balance + deltas[account_id]
        if kind in Account.USER_KINDS and after[account_id] < 0:
            short.append((code, kind, balance, deltas[account_id]))
    if short:
        raise _insufficient(short)
    return after


def _insert_entries(new: list[EntrySpec], reverses: Mapping[str, int]) -> dict[str, int]:
    # Insert in key order so two batches sharing keys take the unique-index locks in the same
    # order (no deadlock between them).
    new = sorted(new, key=lambda s: s.key)
    entry_ids = bulk_insert(
        JournalEntry,
        [
            {
                "idempotency_key": s.key,
                "kind": s.kind,
                "memo": s.memo,
                "reverses_id": reverses.get(s.key),
            }
            for s in new
        ],
    )
    bulk_insert(
        Posting,
        [
            {"entry_id": entry_id, "account_id": account_id, "amount": amount}
            for spec, entry_id in zip(new, entry_ids, strict=True)
            for account_id, amount in spec.postings
        ],
        returning=None,
    )
    return {s.key: entry_id for s, entry_id in zip(new, entry_ids, strict=True)}


def _write_balances(deltas: dict[int, Decimal], after: dict[int, Decimal]) -> None:
    if connection.vendor == "postgresql":
        bulk_increment(Account, "balance", deltas)
    else:
        # SQLite does NUMERIC arithmetic in binary floating point (0.3 - 0.1 - 0.2 < 0 there),
        # which would drift balances and trip the CHECK constraint. Its transactions are
        # serializable (one writer holds the database lock), so the balances read above are
        # current: write the exact sums computed in Decimal instead.
        bulk_set(Account, [{"id": pk, "balance": after[pk]} for pk in deltas], ["balance"])


def _run(work: Callable[[], T], *, durable: bool) -> T:
    """Run ``work`` in its own durable transaction or in a savepoint of the caller's.

    An IntegrityError on a unique key means another transaction committed the same key (or
    reversed the same entry) between our read and our insert: run once more, and the re-read
    returns the existing entry or raises Conflict. A CHECK violation on a balance is the
    database backstop of the under-lock check: report it as InsufficientFunds."""
    for attempt in (1, 2):
        try:
            with transaction.atomic(durable=durable):
                return work()
        except IntegrityError as exc:
            text = str(exc)
            if _BALANCE_CONSTRAINT in text:
                raise InsufficientFunds(
                    "Insufficient funds: the movement would make an account negative."
                ) from exc
            if attempt == 1 and any(col in text for col in _RACE_COLUMNS):
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _apply_balances(postings: Sequence[tuple[Account | int, object]], after: dict) -> None:
    # Keep the caller's Account instances truthful: the value was computed from the locked row.
    for account, _ in postings:
        if isinstance(account, Account) and account.pk in after:
            account.balance = after[account.pk]


def ledger_post(
    *,
    key: str,
    kind: str,
    postings: Sequence[tuple[Account | int, Decimal]],
    memo: str = "",
) -> JournalEntry:
    """Post one balanced journal entry and move the balances.

    Transaction: outside any atomic block it opens ``transaction.atomic(durable=True)``;
    inside one it joins the caller's transaction (through a savepoint), because the caller is a
    top-level money service that owns the durable transaction.
    Locks: every account of the entry, ``SELECT ... FOR UPDATE`` in pk order.
    Idempotency key: ``key`` (unique). Same kind and postings: the existing entry is returned
    and nothing moves. Different: ``Conflict(code="idempotency_conflict")``.
    Refusals: ValueError for a malformed entry (programming error); InsufficientFunds when a
    user-owned account would go negative (nothing is written)."""
    postings = list(postings)
    spec = _normalize(key=key, kind=kind, postings=postings, memo=memo)
    ids, after = _run(lambda: _post_specs([spec], {}), durable=not _in_caller_transaction())
    _apply_balances(postings, after)
    return JournalEntry.objects.get(pk=ids[spec.key])


def ledger_post_batch(specs: Sequence[EntrySpec]) -> dict[str, int]:
    """Post many entries at once (fan-out to thousands of followers); returns key -> entry id.

    Must run inside the caller's transaction. Statements, whatever ``len(specs)`` on
    PostgreSQL: a savepoint, one lock of all touched accounts (``SELECT ... FOR UPDATE ORDER BY
    id``), one read of existing keys, one insert of entries, one insert of postings, one
    balance update, the savepoint release.
    Idempotency: each spec's ``key``; an existing identical entry is skipped (its id returned),
    a different one raises Conflict. The same key twice in ``specs`` must describe the same
    movement. If any user-owned account would go negative the whole batch is refused
    (InsufficientFunds) and nothing is written."""
    if not connection.in_atomic_block:
        raise RuntimeError("ledger_post_batch must run inside the caller's transaction.atomic()")
    unique: dict[str, EntrySpec] = {}
    for raw in specs:
        spec = _normalize(key=raw.key, kind=raw.kind, postings=raw.postings, memo=raw.memo)
        seen = unique.setdefault(spec.key, spec)
        if (seen.kind, seen.postings) != (spec.kind, spec.postings):
            raise Conflict(
                f"Idempotency key {spec.key!r} appears twice in one batch with different "
                "movements.",
                code="idempotency_conflict",
            )
    if not unique:
        return {}
    ids, _ = _run(lambda: _post_specs(list(unique.values()), {}), durable=False)
    return ids


def ledger_reverse(
    *, entry: JournalEntry | int, key: str | None = None, memo: str = ""
) -> JournalEntry:
    """Post the negated postings of ``entry`` as a ``reversal`` entry with ``reverses=entry``.

    Transaction and locks as ``ledger_post`` (the accounts of the entry, pk order).
    Idempotency key: ``key`` (default ``reversal:<entry id>``); the OneToOne ``reverses``
    makes a second reversal impossible: a repeat with the same key returns the existing
    reversal, another key raises ``Conflict(code="already_reversed")``. A reversal entry is
    not itself reversed (post a new entry instead). InsufficientFunds if a user account would
    go negative (the money was already spent)."""
    entry_id = entry.pk if isinstance(entry, JournalEntry) else int(entry)
    key = key or f"reversal:{entry_id}"

    def work() -> dict[str, int]:
        original = JournalEntry.objects.filter(pk=entry_id).select_related("reversed_by").first()
        if original is None:
            raise NotFound(f"Journal entry #{entry_id} does not exist.")
        if original.kind == JournalEntry.Kind.REVERSAL:
            raise Conflict(
                f"Entry #{entry_id} is itself a reversal; post a new entry to correct it.",
                code="reversal_of_reversal",
            )
        reversal = getattr(original, "reversed_by", None)
        if reversal is not None and reversal.idempotency_key != key:
            raise Conflict(
                f"Entry #{entry_id} was already reversed by entry #{reversal.pk}.",
                code="already_reversed",
            )
        legs = original.postings.values_list("account_id", "amount")
        spec = _normalize(
            key=key,
            kind=JournalEntry.Kind.REVERSAL,
            postings=[(account_id, -amount) for account_id, amount in legs],
            memo=memo or f"Reversal of entry #{entry_id}",
        )
        ids, _ = _post_specs([spec], {key: entry_id})
        return ids

    ids = _run(work, durable=not _in_caller_transaction())
    return JournalEntry.objects.get(pk=ids[key])


# --- deposits and withdrawals (operators) ------------------------------------------------


def _operator_amount(amount: object) -> Decimal:
    """A person typed this amount: refuse with a message they can act on."""
    return parse_decimal(
        amount,
        field="amount",
        label="Amount",
        positive=True,
        max_abs=_MAX_ABS,
        code="invalid_amount",
    )


def _operator_memo(action: str, operator) -> str:
    return f"{action} recorded by {operator}" if operator is not None else action


def deposit_credit(*, user, amount: Decimal, key: str | None = None, operator=None) -> JournalEntry:
    """Credit a deposit: external world -> the user's main account.

    Transaction and locks as ``ledger_post`` (main and external accounts, pk order).
    Idempotency key: ``key``, or a fresh ``deposit:<uuid>`` (then every call is new)."""
    value = _operator_amount(amount)
    main = account_main(user=user)
    external = account_system(Account.Kind.EXTERNAL)
    return ledger_post(
        key=key or f"deposit:{uuid.uuid4().hex}",
        kind=JournalEntry.Kind.DEPOSIT,
        postings=[(external, -value), (main, value)],
        memo=_operator_memo("Deposit", operator),
    )


def withdrawal_record(
    *, user, amount: Decimal, key: str | None = None, operator=None
) -> JournalEntry:
    """Record a withdrawal: the user's main account -> external world.

    Transaction and locks as ``ledger_post`` (main and external accounts, pk order).
    Idempotency key: ``key``, or a fresh ``withdrawal:<uuid>``. InsufficientFunds when the
    main balance is short (money in copies or lead accounts is not available here)."""
    value = _operator_amount(amount)
    main = account_main(user=user)
    external = account_system(Account.Kind.EXTERNAL)
    return ledger_post(
        key=key or f"withdrawal:{uuid.uuid4().hex}",
        kind=JournalEntry.Kind.WITHDRAWAL,
        postings=[(main, -value), (external, value)],
        memo=_operator_memo("Withdrawal", operator),
    )
