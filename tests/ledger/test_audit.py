from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.ledger.models import Account
from apps.ledger.services import account_main, deposit_credit, withdrawal_record
from tests.factories.ledger import user_with_main_balance

pytestmark = pytest.mark.django_db


def test_ledger_audit_clean_ledger_passes():
    # given: some movements
    user = user_with_main_balance("100.12345678")
    withdrawal_record(user=user, amount=Decimal("0.12345678"))
    out = StringIO()
    # when
    call_command("ledger_audit", stdout=out)
    # then
    text = out.getvalue()
    assert "accounts checked: 2" in text
    assert "entries checked: 2" in text
    assert "drift lines: 0" in text
    assert "ledger OK" in text


def test_ledger_audit_tampered_balance_fails_and_names_the_account():
    # given: a balance changed behind the ledger's back
    user = user_with_main_balance("100")
    main = account_main(user=user)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Account._meta.db_table} SET balance = balance + 1 WHERE id = %s", [main.pk]
        )
    out = StringIO()
    # when/then: non-zero exit and the account named
    with pytest.raises(CommandError):
        call_command("ledger_audit", stdout=out)
    assert f"DRIFT account main:{user.pk}" in out.getvalue()
    assert "drift 1.00000000" in out.getvalue()
    # repair so the shared zero-sum check sees a sound ledger
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Account._meta.db_table} SET balance = balance - 1 WHERE id = %s", [main.pk]
        )
    call_command("ledger_audit", stdout=StringIO())


@pytest.mark.no_ledger_check
def test_ledger_audit_exit_status_is_non_zero_from_the_command_line():
    # given: a tampered balance (this test leaves it: no shared zero-sum check)
    user = user_with_main_balance("3")
    deposit_credit(user=user, amount=Decimal("1"))
    Account.objects.filter(code=f"main:{user.pk}").update(balance=Decimal("0"))
    # when: run as manage.py would (CommandError -> SystemExit(1))
    from django.core.management import ManagementUtility

    with pytest.raises(SystemExit) as exit_info:
        ManagementUtility(["manage.py", "ledger_audit"]).execute()
    # then
    assert exit_info.value.code == 1
