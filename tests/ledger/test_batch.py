from decimal import Decimal

import pytest
from django.db import connection, transaction

from apps.core.exceptions import Conflict, InsufficientFunds
from apps.ledger.models import Account, JournalEntry, Posting
from apps.ledger.services import EntrySpec, account_system, ledger_post_batch
from tests.factories.ledger import user_make

pytestmark = pytest.mark.django_db


def _copy_accounts(n: int) -> list[int]:
    owner = user_make()
    Account.objects.bulk_create(
        [Account(kind="copy", owner=owner, code=f"copy:b{i}") for i in range(n)]
    )
    return list(Account.objects.filter(owner=owner).order_by("id").values_list("id", flat=True))


def _fund_specs(accounts: list[int], amount: Decimal, prefix: str = "fund") -> list[EntrySpec]:
    external = account_system("external").pk
    return [
        EntrySpec(
            key=f"{prefix}:{acc}",
            kind="deposit",
            postings=((external, -amount), (acc, amount)),
        )
        for acc in accounts
    ]


def test_ledger_post_batch_fans_out_in_a_constant_number_of_queries(
    django_assert_max_num_queries,
):
    # given: 1,000 follower copy accounts and the platform accounts already created
    accounts = _copy_accounts(1000)
    fees = account_system("platform_fees").pk
    specs = _fund_specs(accounts, Decimal("10"))
    # SQLite's fallback in apps.core.bulk chunks its statements (500 rows an insert, 400 an
    # update); PostgreSQL sends one statement per step.
    limit = 9 if connection.vendor == "postgresql" else 24
    # when: 1,000 deposits, then 1,000 fees, each in one batch
    with transaction.atomic(), django_assert_max_num_queries(limit):
        ids = ledger_post_batch(specs)
    fee_specs = [
        EntrySpec(
            key=f"fee:{acc}",
            kind="trading_fee",
            postings=((acc, Decimal("-0.25")), (fees, Decimal("0.25"))),
        )
        for acc in accounts
    ]
    with transaction.atomic(), django_assert_max_num_queries(limit):
        ledger_post_batch(fee_specs)
    # then: every entry exists with its postings, balances moved exactly once
    assert len(ids) == 1000 and len(set(ids.values())) == 1000
    assert JournalEntry.objects.filter(pk__in=ids.values()).count() == 1000
    assert Posting.objects.filter(entry_id__in=ids.values()).count() == 2000
    assert set(Account.objects.filter(pk__in=accounts).values_list("balance", flat=True)) == {
        Decimal("9.75")
    }
    assert Account.objects.get(pk=fees).balance == Decimal("250")


def test_ledger_post_batch_skips_existing_identical_keys_and_returns_their_ids():
    # given: one of three entries already posted
    accounts = _copy_accounts(3)
    specs = _fund_specs(accounts, Decimal("5"))
    with transaction.atomic():
        first = ledger_post_batch(specs[:1])
    # when: the whole batch is posted (twice)
    with transaction.atomic():
        ids = ledger_post_batch(specs)
        again = ledger_post_batch(specs)
    # then: the existing id is kept, money moved once per key
    assert ids[specs[0].key] == first[specs[0].key]
    assert again == ids
    assert (
        list(Account.objects.filter(pk__in=accounts).values_list("balance", flat=True))
        == [Decimal("5")] * 3
    )
    assert JournalEntry.objects.filter(idempotency_key__startswith="fund:").count() == 3


def test_ledger_post_batch_conflicting_existing_key_refuses_the_whole_batch():
    accounts = _copy_accounts(2)
    with transaction.atomic():
        ledger_post_batch(_fund_specs(accounts[:1], Decimal("5")))
    with pytest.raises(Conflict), transaction.atomic():
        ledger_post_batch(_fund_specs(accounts, Decimal("6")))
    assert [a.balance for a in Account.objects.filter(pk__in=accounts)] == [
        Decimal("5"),
        Decimal("0"),
    ]


def test_ledger_post_batch_same_key_twice_in_one_batch():
    accounts = _copy_accounts(1)
    spec = _fund_specs(accounts, Decimal("5"))[0]
    other = EntrySpec(
        key=spec.key, kind="deposit", postings=tuple((a, d * 2) for a, d in spec.postings)
    )
    with transaction.atomic():
        assert len(ledger_post_batch([spec, spec])) == 1
    with pytest.raises(Conflict), transaction.atomic():
        ledger_post_batch([spec, other])
    assert Account.objects.get(pk=accounts[0]).balance == Decimal("5")


def test_ledger_post_batch_insufficient_funds_writes_nothing():
    # given: two funded copy accounts of 5 each
    accounts = _copy_accounts(2)
    with transaction.atomic():
        ledger_post_batch(_fund_specs(accounts, Decimal("5")))
    fees = account_system("platform_fees").pk
    entries_before = JournalEntry.objects.count()
    # when: one of two fees exceeds its account
    specs = [
        EntrySpec(
            key="f1",
            kind="trading_fee",
            postings=((accounts[0], Decimal("-1")), (fees, Decimal("1"))),
        ),
        EntrySpec(
            key="f2",
            kind="trading_fee",
            postings=((accounts[1], Decimal("-5.00000001")), (fees, Decimal("5.00000001"))),
        ),
    ]
    with transaction.atomic():
        with pytest.raises(InsufficientFunds) as err:
            ledger_post_batch(specs)
        # then: the caller's transaction is still usable and nothing was written
        assert JournalEntry.objects.count() == entries_before
    assert "copy:b1" in err.value.message
    assert [a.balance for a in Account.objects.filter(pk__in=accounts)] == [Decimal("5")] * 2


def test_ledger_post_batch_several_entries_on_one_account_are_checked_together():
    # given: 5 in one copy account
    accounts = _copy_accounts(1)
    with transaction.atomic():
        ledger_post_batch(_fund_specs(accounts, Decimal("5")))
    fees = account_system("platform_fees").pk
    specs = [
        EntrySpec(
            key=f"f{i}",
            kind="trading_fee",
            postings=((accounts[0], Decimal("-2")), (fees, Decimal("2"))),
        )
        for i in range(3)
    ]
    # when/then: 3 x 2 > 5
    with pytest.raises(InsufficientFunds), transaction.atomic():
        ledger_post_batch(specs)
    assert Account.objects.get(pk=accounts[0]).balance == Decimal("5")


@pytest.mark.django_db(transaction=True)
def test_ledger_post_batch_requires_a_caller_transaction():
    # given: autocommit (no atomic block at all)
    accounts = _copy_accounts(1)
    specs = _fund_specs(accounts, Decimal("1"))
    # when/then: refused before anything is written
    with pytest.raises(RuntimeError):
        ledger_post_batch(specs)
    assert not JournalEntry.objects.exists()
