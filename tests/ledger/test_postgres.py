"""PostgreSQL-only: real row locks, concurrent transactions and the database triggers."""

import threading
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.core.exceptions import InsufficientFunds
from apps.ledger.models import Account, JournalEntry, Posting
from apps.ledger.services import account_main, account_system, ledger_post, ledger_reverse
from tests.factories.ledger import user_with_main_balance

THREADS = 8


def _in_threads(target, n: int = THREADS) -> list:
    """Run ``target(i)`` in n threads released together; returns results or exceptions."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = target(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects every outcome
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_debits_never_overdraw_the_account(postgres):
    # given: 100 in main; 8 threads each debit 30 (240 in total)
    user = user_with_main_balance("100")
    main_id = account_main(user=user).pk
    fees_id = account_system("platform_fees").pk
    amount = Decimal("30")

    def debit(i: int):
        return ledger_post(
            key=f"debit:{i}", kind="trading_fee", postings=[(main_id, -amount), (fees_id, amount)]
        )

    # when
    results = _in_threads(debit)
    # then: 3 succeed, 5 are refused, the balance fell by exactly the successful debits
    ok = [r for r in results if isinstance(r, JournalEntry)]
    refused = [r for r in results if isinstance(r, InsufficientFunds)]
    assert len(ok) + len(refused) == THREADS, results
    assert len(ok) == 3
    balance = Account.objects.get(pk=main_id).balance
    assert balance == Decimal("100") - amount * len(ok) == Decimal("10")
    assert balance >= 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_of_one_key_create_exactly_one_entry(postgres):
    # given: 8 threads posting the same key and postings
    user = user_with_main_balance("100")
    main_id = account_main(user=user).pk
    fees_id = account_system("platform_fees").pk

    def post(i: int):
        return ledger_post(
            key="same-key",
            kind="trading_fee",
            postings=[(main_id, Decimal("-7")), (fees_id, Decimal("7"))],
        ).pk

    # when
    results = _in_threads(post)
    # then: everyone got the one entry; money moved once
    assert all(isinstance(r, int) for r in results), results
    assert len(set(results)) == 1
    assert JournalEntry.objects.filter(idempotency_key="same-key").count() == 1
    assert Account.objects.get(pk=main_id).balance == Decimal("93")


@pytest.mark.django_db(transaction=True)
def test_concurrent_reversals_of_one_entry_post_one(postgres):
    user = user_with_main_balance("10")
    main = account_main(user=user)
    fees = account_system("platform_fees")
    fee = ledger_post(
        key="fee", kind="trading_fee", postings=[(main, Decimal("-4")), (fees, Decimal("4"))]
    )
    results = _in_threads(lambda i: ledger_reverse(entry=fee.pk, key=f"rev:{i % 2}").pk)
    reversals = JournalEntry.objects.filter(reverses=fee)
    assert reversals.count() == 1
    assert sum(isinstance(r, int) for r in results) >= 1
    assert Account.objects.get(pk=main.pk).balance == Decimal("10")


@pytest.mark.django_db(transaction=True)
def test_accounts_are_locked_for_update_in_pk_order(postgres):
    user = user_with_main_balance("10")
    main, fees = account_main(user=user), account_system("platform_fees")
    with CaptureQueriesContext(connection) as queries:
        ledger_post(
            key="l", kind="trading_fee", postings=[(fees, Decimal("1")), (main, Decimal("-1"))]
        )
    # FOR NO KEY UPDATE: serializes like FOR UPDATE without blocking foreign-key checks
    lock = [q["sql"] for q in queries.captured_queries if "FOR NO KEY UPDATE" in q["sql"]]
    assert len(lock) == 1
    assert lock[0].endswith(
        ("ORDER BY 1 ASC FOR NO KEY UPDATE", 'ORDER BY "ledger_account"."id" ASC FOR NO KEY UPDATE')
    )


@pytest.mark.django_db(transaction=True)
def test_deferred_trigger_rejects_an_unbalanced_entry_at_commit(postgres):
    # given: two accounts
    market, fees = account_system("market"), account_system("platform_fees")
    # when: raw SQL writes an entry whose postings sum to 1 (the statements themselves pass)
    with (
        pytest.raises(IntegrityError, match="unbalanced"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO ledger_journalentry (idempotency_key, kind, memo, created_at) "
            "VALUES ('raw', 'adjustment', '', now()) RETURNING id"
        )
        entry_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO ledger_posting (entry_id, account_id, amount) VALUES "
            "(%s, %s, -5), (%s, %s, 6)",
            [entry_id, market.pk, entry_id, fees.pk],
        )
    # then: the commit failed, nothing is there
    assert not JournalEntry.objects.filter(idempotency_key="raw").exists()
    assert not Posting.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_deferred_trigger_rejects_an_entry_left_without_postings_at_commit(postgres):
    # when: raw SQL writes a journal entry and no postings (each statement passes)
    with (
        pytest.raises(IntegrityError, match="unbalanced"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO ledger_journalentry (idempotency_key, kind, memo, created_at) "
            "VALUES ('empty', 'adjustment', '', now())"
        )
    # then: the commit failed
    assert not JournalEntry.objects.filter(idempotency_key="empty").exists()


@pytest.mark.django_db(transaction=True)
def test_posting_appended_to_a_committed_entry_must_keep_it_balanced(postgres):
    market, fees = account_system("market"), account_system("platform_fees")
    entry = ledger_post(
        key="base", kind="adjustment", postings=[(market, Decimal("-5")), (fees, Decimal("5"))]
    )
    with pytest.raises(IntegrityError, match="unbalanced"), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_posting (entry_id, account_id, amount) VALUES (%s, %s, 1)",
            [entry.pk, fees.pk],
        )


@pytest.mark.django_db(transaction=True)
def test_deferred_trigger_accepts_a_balanced_raw_entry(postgres):
    market, fees = account_system("market"), account_system("platform_fees")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_journalentry (idempotency_key, kind, memo, created_at) "
            "VALUES ('raw-ok', 'adjustment', '', now()) RETURNING id"
        )
        entry_id = cursor.fetchone()[0]
        cursor.execute(
            "INSERT INTO ledger_posting (entry_id, account_id, amount) VALUES "
            "(%s, %s, -5), (%s, %s, 5)",
            [entry_id, market.pk, entry_id, fees.pk],
        )
        # keep the stored balances true to the postings for the shared zero-sum check
        cursor.execute(
            "UPDATE ledger_account SET balance = balance + CASE id WHEN %s THEN -5 ELSE 5 END "
            "WHERE id IN (%s, %s)",
            [market.pk, market.pk, fees.pk],
        )
    assert JournalEntry.objects.filter(idempotency_key="raw-ok").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_posting SET amount = amount * 2",
        "DELETE FROM ledger_posting",
        "UPDATE ledger_journalentry SET memo = 'edited'",
        "DELETE FROM ledger_journalentry",
    ],
)
def test_postings_and_entries_are_append_only(postgres, sql):
    # given: one entry
    user_with_main_balance("10")
    # when/then: editing or deleting is refused by the database
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert JournalEntry.objects.get().memo == "Deposit"
