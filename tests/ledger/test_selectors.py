from decimal import Decimal

import pytest

from apps.ledger.selectors import account_statement, wallet_get
from apps.ledger.services import account_create, account_main, ledger_post, ledger_reverse
from tests.factories.ledger import user_make, user_with_main_balance

pytestmark = pytest.mark.django_db


def test_wallet_get_splits_money_by_place():
    # given: 1000 deposited; 300 in a copy, 150 in lead futures, 50 in lead spot
    user = user_with_main_balance("1000")
    main = account_main(user=user)
    copy = account_create(kind="copy", owner=user, code="copy:1")
    futures = account_create(kind="lead_futures", owner=user, code=f"lead_futures:{user.pk}")
    spot = account_create(kind="lead_spot", owner=user, code=f"lead_spot:{user.pk}")
    for key, acc, amount in [("c", copy, "300"), ("f", futures, "150"), ("s", spot, "50")]:
        ledger_post(
            key=key,
            kind="transfer",
            postings=[(main, -Decimal(amount)), (acc, Decimal(amount))],
        )
    # another user's money is not counted
    user_with_main_balance("77")
    # when
    wallet = wallet_get(user=user)
    # then
    assert wallet == {
        "balance_usdt": Decimal("500"),
        "available_usdt": Decimal("500"),
        "in_copies_usdt": Decimal("300"),
        "in_lead_accounts_usdt": Decimal("200"),
    }


def test_wallet_get_of_a_user_without_accounts_is_zero_and_creates_nothing():
    user = user_make()
    assert set(wallet_get(user=user).values()) == {Decimal("0")}
    assert not user.ledger_accounts.exists()


def test_account_statement_newest_first_with_entry_info():
    # given: a deposit, a transfer out and its reversal
    user = user_with_main_balance("100")
    main = account_main(user=user)
    copy = account_create(kind="copy", owner=user, code="copy:2")
    out = ledger_post(
        key="t1", kind="copy_funding", postings=[(main, Decimal("-40")), (copy, Decimal("40"))]
    )
    ledger_reverse(entry=out)
    # when
    rows = account_statement(account=main)
    limited = account_statement(account=main.pk, limit=1)
    # then
    assert [(r["kind"], r["amount"]) for r in rows] == [
        ("reversal", Decimal("40")),
        ("copy_funding", Decimal("-40")),
        ("deposit", Decimal("100")),
    ]
    assert rows[0]["reverses_id"] == out.pk
    assert rows[1]["idempotency_key"] == "t1"
    assert len(limited) == 1 and limited[0]["kind"] == "reversal"
