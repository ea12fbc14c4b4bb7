from decimal import Decimal

import pytest
from django.db import transaction

from apps.core.exceptions import ApplicationError, Conflict, InsufficientFunds, NotFound
from apps.ledger.management.commands.ledger_audit import ledger_drift
from apps.ledger.models import Account, JournalEntry, Posting
from apps.ledger.services import (
    account_create,
    account_main,
    account_system,
    deposit_credit,
    ledger_post,
    ledger_reverse,
    withdrawal_record,
)
from tests.factories.ledger import user_make, user_with_main_balance

pytestmark = pytest.mark.django_db


def _balance(account: Account) -> Decimal:
    return Account.objects.get(pk=account.pk).balance


# --- accounts ------------------------------------------------------------------------------


def test_account_system_is_one_per_kind():
    # given/when: the market account asked for twice
    first = account_system("market")
    second = account_system(Account.Kind.MARKET)
    # then: one row, code == kind, no owner
    assert first.pk == second.pk
    assert (first.code, first.kind, first.owner_id) == ("market", "market", None)


def test_account_system_refuses_user_kind():
    with pytest.raises(ValueError):
        account_system("main")


def test_account_main_is_created_once_per_user():
    user = user_make()
    assert account_main(user=user).pk == account_main(user=user).pk
    assert account_main(user=user).code == f"main:{user.pk}"


def test_account_create_is_idempotent_on_code_and_refuses_a_taken_code():
    # given: a copy account
    user, other = user_make(), user_make()
    acc = account_create(kind="copy", owner=user, code="copy:901")
    # when/then: the same call returns it; another owner for the code is refused
    assert account_create(kind="copy", owner=user, code="copy:901").pk == acc.pk
    with pytest.raises(Conflict):
        account_create(kind="copy", owner=other, code="copy:901")
    with pytest.raises(ValueError):
        account_create(kind="market", owner=user, code="market:2")


# --- ledger_post: shape of an entry --------------------------------------------------------


def test_ledger_post_moves_balances_and_records_postings():
    # given: a user with 100 in main and a copy account
    user = user_with_main_balance("100")
    main = account_main(user=user)
    copy = account_create(kind="copy", owner=user, code="copy:1")
    # when: 40 moves main -> copy
    entry = ledger_post(
        key="copy-fund:1",
        kind="copy_funding",
        postings=[(main, Decimal("-40")), (copy.pk, Decimal("40"))],
        memo="start",
    )
    # then: balances moved, the entry has both legs, the passed instance is refreshed
    assert _balance(main) == Decimal("60")
    assert _balance(copy) == Decimal("40")
    assert main.balance == Decimal("60")
    assert sorted(entry.postings.values_list("account_id", "amount")) == sorted(
        [(main.pk, Decimal("-40")), (copy.pk, Decimal("40"))]
    )
    assert (entry.kind, entry.memo, entry.idempotency_key) == (
        "copy_funding",
        "start",
        "copy-fund:1",
    )


@pytest.mark.parametrize(
    "amounts",
    [
        [Decimal("-10"), Decimal("9.99999999")],  # unbalanced
        [Decimal("-10")],  # one posting
        [Decimal("0"), Decimal("0")],  # zero amounts
        [Decimal("-10"), Decimal("10"), Decimal("0")],  # a zero leg
        [Decimal("-0.000000001"), Decimal("0.000000001")],  # beyond 8 places: never rounded
    ],
)
def test_ledger_post_refuses_malformed_entries(amounts):
    # given: a funded main and the market account
    user = user_with_main_balance("100")
    accounts = [account_main(user=user), account_system("market"), account_system("external")]
    entries_before = JournalEntry.objects.count()
    # when/then: refused, nothing written
    with pytest.raises(ValueError):
        ledger_post(
            key="bad", kind="adjustment", postings=list(zip(accounts, amounts, strict=False))
        )
    assert JournalEntry.objects.count() == entries_before
    assert _balance(accounts[0]) == Decimal("100")


def test_ledger_post_refuses_floats_unknown_kind_and_unknown_account():
    market, fees = account_system("market"), account_system("platform_fees")
    with pytest.raises(TypeError):
        ledger_post(key="f", kind="adjustment", postings=[(market, -1.5), (fees, 1.5)])
    with pytest.raises(ValueError):
        ledger_post(key="k", kind="nope", postings=[(market, Decimal(-1)), (fees, Decimal(1))])
    with pytest.raises(ValueError):
        ledger_post(
            key="a", kind="adjustment", postings=[(market, Decimal(-1)), (999999, Decimal(1))]
        )
    assert not JournalEntry.objects.exists()


def test_ledger_post_merges_legs_on_the_same_account():
    # given: realized PnL and a fee on one copy account in one entry (SPEC §5.3 B)
    user = user_with_main_balance("0")
    copy = account_create(kind="copy", owner=user, code="copy:7")
    market, fees = account_system("market"), account_system("platform_fees")
    # when
    entry = ledger_post(
        key="close:1",
        kind="realized_pnl",
        postings=[
            (market, Decimal("-8")),
            (copy, Decimal("8")),
            (copy, Decimal("-0.104")),
            (fees, Decimal("0.104")),
        ],
    )
    # then: one net posting for the copy account
    assert entry.postings.count() == 3
    assert entry.postings.get(account=copy).amount == Decimal("7.896")
    assert _balance(copy) == Decimal("7.896")


def test_ledger_post_refuses_legs_that_net_to_nothing():
    main = account_main(user=user_make())
    with pytest.raises(ValueError):
        ledger_post(key="self", kind="transfer", postings=[(main, Decimal(5)), (main, Decimal(-5))])


def test_system_accounts_may_go_negative():
    market, fees = account_system("market"), account_system("platform_fees")
    ledger_post(
        key="m", kind="adjustment", postings=[(market, Decimal("-5")), (fees, Decimal("5"))]
    )
    assert _balance(market) == Decimal("-5")


# --- insufficient funds --------------------------------------------------------------------


def test_ledger_post_refuses_to_make_a_user_account_negative_and_writes_nothing():
    # given: 30 in main
    user = user_with_main_balance("30")
    main, fees = account_main(user=user), account_system("platform_fees")
    entries_before = JournalEntry.objects.count()
    # when: 30.00000001 is debited
    with pytest.raises(InsufficientFunds) as err:
        ledger_post(
            key="fee:1",
            kind="trading_fee",
            postings=[(main, Decimal("-30.00000001")), (fees, Decimal("30.00000001"))],
        )
    # then: a clear message, nothing moved, the key stays free
    assert "main:" in err.value.message and "balance 30.00 USDT" in err.value.message
    assert err.value.code == "insufficient_funds"
    assert _balance(main) == Decimal("30")
    assert JournalEntry.objects.count() == entries_before
    assert not JournalEntry.objects.filter(idempotency_key="fee:1").exists()
    # and: exactly the balance is allowed
    ledger_post(
        key="fee:1", kind="trading_fee", postings=[(main, Decimal("-30")), (fees, Decimal("30"))]
    )
    assert _balance(main) == Decimal("0")


def test_insufficient_funds_inside_a_caller_transaction_leaves_it_usable():
    # given: a caller's own transaction
    user = user_with_main_balance("10")
    main, fees = account_main(user=user), account_system("platform_fees")
    with transaction.atomic():
        # when: a post is refused, then another succeeds in the same transaction
        with pytest.raises(InsufficientFunds):
            ledger_post(
                key="x1",
                kind="trading_fee",
                postings=[(main, Decimal("-11")), (fees, Decimal("11"))],
            )
        ledger_post(
            key="x2", kind="trading_fee", postings=[(main, Decimal("-1")), (fees, Decimal("1"))]
        )
    # then: only the second moved money
    assert _balance(main) == Decimal("9")
    assert list(
        JournalEntry.objects.filter(idempotency_key__in=["x1", "x2"]).values_list(
            "idempotency_key", flat=True
        )
    ) == ["x2"]


# --- idempotency ---------------------------------------------------------------------------


def test_ledger_post_same_key_same_postings_returns_existing_entry_without_moving_money():
    # given: one posted fee
    user = user_with_main_balance("50")
    main, fees = account_main(user=user), account_system("platform_fees")
    postings = [(main, Decimal("-2.5")), (fees, Decimal("2.5"))]
    first = ledger_post(key="fee:dup", kind="trading_fee", postings=postings)
    # when: posted again (legs in another order, another memo)
    second = ledger_post(key="fee:dup", kind="trading_fee", postings=postings[::-1], memo="retry")
    # then: same entry, money moved once
    assert second.pk == first.pk
    assert _balance(main) == Decimal("47.5")
    assert JournalEntry.objects.filter(idempotency_key="fee:dup").count() == 1


@pytest.mark.parametrize(
    ("kind", "amount"),
    [("trading_fee", Decimal("2.6")), ("funding", Decimal("2.5"))],
)
def test_ledger_post_same_key_different_movement_conflicts(kind, amount):
    # given
    user = user_with_main_balance("50")
    main, fees = account_main(user=user), account_system("platform_fees")
    ledger_post(
        key="fee:c", kind="trading_fee", postings=[(main, Decimal("-2.5")), (fees, Decimal("2.5"))]
    )
    # when/then
    with pytest.raises(Conflict) as err:
        ledger_post(key="fee:c", kind=kind, postings=[(main, -amount), (fees, amount)])
    assert err.value.code == "idempotency_conflict"
    assert _balance(main) == Decimal("47.5")


# --- deposits and withdrawals --------------------------------------------------------------


def test_deposit_and_withdrawal_move_between_external_and_main():
    # given
    user = user_make()
    operator = user_make(is_staff=True)
    # when
    dep = deposit_credit(user=user, amount=Decimal("250.12345678"), operator=operator)
    wd = withdrawal_record(user=user, amount=Decimal("50.12345678"), key="wd:1")
    # then
    assert _balance(account_main(user=user)) == Decimal("200")
    assert _balance(account_system("external")) == Decimal("-200")
    assert dep.kind == "deposit" and dep.idempotency_key.startswith("deposit:")
    assert operator.email in dep.memo
    assert (wd.kind, wd.idempotency_key) == ("withdrawal", "wd:1")


def test_deposit_with_key_is_idempotent():
    user = user_make()
    a = deposit_credit(user=user, amount=Decimal("10"), key="dep:1")
    b = deposit_credit(user=user, amount=Decimal("10"), key="dep:1")
    assert a.pk == b.pk
    assert _balance(account_main(user=user)) == Decimal("10")
    with pytest.raises(Conflict):
        deposit_credit(user=user, amount=Decimal("11"), key="dep:1")


def test_withdrawal_larger_than_main_balance_is_refused():
    user = user_with_main_balance("20")
    with pytest.raises(InsufficientFunds):
        withdrawal_record(user=user, amount=Decimal("20.00000001"))
    assert _balance(account_main(user=user)) == Decimal("20")


@pytest.mark.parametrize("amount", ["0", "-1", "1.000000001", "abc", "1e30", "NaN"])
def test_deposit_refuses_bad_amounts(amount):
    user = user_make()
    with pytest.raises(ApplicationError) as err:
        deposit_credit(user=user, amount=amount)
    assert err.value.message
    assert not JournalEntry.objects.exists()


# --- reversals -----------------------------------------------------------------------------


def test_ledger_reverse_restores_balances_and_links_the_entry():
    # given: a fee of 3
    user = user_with_main_balance("10")
    main, fees = account_main(user=user), account_system("platform_fees")
    fee = ledger_post(
        key="fee:r", kind="trading_fee", postings=[(main, Decimal("-3")), (fees, Decimal("3"))]
    )
    # when
    reversal = ledger_reverse(entry=fee, memo="charged twice")
    # then
    assert _balance(main) == Decimal("10") and _balance(fees) == Decimal("0")
    assert (reversal.kind, reversal.reverses_id, reversal.memo) == (
        "reversal",
        fee.pk,
        "charged twice",
    )
    assert reversal.idempotency_key == f"reversal:{fee.pk}"
    assert JournalEntry.objects.get(pk=fee.pk).reversed_by.pk == reversal.pk


def test_ledger_reverse_twice_returns_the_same_reversal_or_refuses_another_key():
    # given: a reversed deposit
    user = user_with_main_balance("0")
    dep = deposit_credit(user=user, amount=Decimal("5"), key="dep:r")
    first = ledger_reverse(entry=dep.pk)
    # when: reversed again with the default key / another key
    again = ledger_reverse(entry=dep)
    with pytest.raises(Conflict) as err:
        ledger_reverse(entry=dep, key="other")
    # then: one reversal, money moved back once
    assert again.pk == first.pk
    assert err.value.code == "already_reversed"
    assert _balance(account_main(user=user)) == Decimal("0")
    assert JournalEntry.objects.filter(kind="reversal").count() == 1


def test_ledger_reverse_refuses_reversal_of_a_reversal_and_unknown_entries():
    user = user_with_main_balance("0")
    dep = deposit_credit(user=user, amount=Decimal("5"))
    reversal = ledger_reverse(entry=dep)
    with pytest.raises(Conflict):
        ledger_reverse(entry=reversal)
    with pytest.raises(NotFound):
        ledger_reverse(entry=987654)


def test_ledger_reverse_refused_when_the_money_was_spent():
    # given: a deposit of 5, then 4 withdrawn
    user = user_with_main_balance("0")
    dep = deposit_credit(user=user, amount=Decimal("5"))
    withdrawal_record(user=user, amount=Decimal("4"))
    # when/then: reversing the deposit would leave main at -4
    with pytest.raises(InsufficientFunds):
        ledger_reverse(entry=dep)
    assert _balance(account_main(user=user)) == Decimal("1")
    assert not JournalEntry.objects.filter(kind="reversal").exists()
    assert Posting.objects.filter(entry__kind="reversal").count() == 0


def test_balances_stay_exact_when_decimal_amounts_are_not_binary_fractions():
    # given: 0.3 deposited
    user = user_with_main_balance("0.3")
    # when: 0.1 and then 0.2 withdrawn (a float would end at -2.8e-17 and hit the constraint)
    withdrawal_record(user=user, amount=Decimal("0.1"))
    withdrawal_record(user=user, amount=Decimal("0.2"))
    # then: exactly zero, and the audit finds no drift
    assert _balance(account_main(user=user)) == Decimal("0")
    assert ledger_drift()[2] == []
