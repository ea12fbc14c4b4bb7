from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from apps.ledger.models import Account, JournalEntry, Posting
from apps.ledger.services import account_main, withdrawal_record
from tests.factories.ledger import user_make, user_with_main_balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    client.force_login(user_make(is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("model", ["account", "journalentry", "posting"])
def test_ledger_admin_lists_and_details_are_read_only(admin_client_, model):
    # given: one deposit
    user_with_main_balance("10")
    obj = {"account": Account, "journalentry": JournalEntry, "posting": Posting}[
        model
    ].objects.first()
    # when
    changelist = admin_client_.get(reverse(f"admin:ledger_{model}_changelist"))
    detail = admin_client_.get(reverse(f"admin:ledger_{model}_change", args=[obj.pk]))
    add = admin_client_.get(reverse(f"admin:ledger_{model}_add"))
    # then: viewable, not addable, and no save button on the detail page
    assert changelist.status_code == 200
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    assert add.status_code == 403


def test_account_admin_search_by_owner_email(admin_client_):
    user_with_main_balance("10", email="findme@example.com")
    response = admin_client_.get(reverse("admin:ledger_account_changelist"), {"q": "findme"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1


def test_reverse_action_reports_each_entry(admin_client_):
    # given: a deposit of 10 (then 10 withdrawn, so reversing the deposit is refused) and a
    # deposit of 5 on another user
    spent = user_with_main_balance("10")
    withdrawal_record(user=spent, amount=Decimal("10"))
    kept = user_with_main_balance("5")
    deposits = JournalEntry.objects.filter(kind="deposit").order_by("id")
    # when
    response = admin_client_.post(
        reverse("admin:ledger_journalentry_changelist"),
        {"action": "reverse_entries", "_selected_action": [e.pk for e in deposits]},
        follow=True,
    )
    # then: one refused with its reason, one reversed
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("not reversed" in t and "Insufficient funds" in t for t in texts), texts
    assert any(f"Entry #{deposits[1].pk} reversed" in t for t in texts), texts
    assert Account.objects.get(pk=account_main(user=kept).pk).balance == Decimal("0")
    assert Account.objects.get(pk=account_main(user=spent).pk).balance == Decimal("0")
    assert JournalEntry.objects.filter(kind="reversal").count() == 1


def test_reverse_action_is_hidden_from_staff_without_the_right(client):
    # given: staff allowed to view entries but not to create them
    from django.contrib.auth.models import Permission

    staff = user_make(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_journalentry"))
    client.force_login(staff)
    user_with_main_balance("10")
    # when
    response = client.get(reverse("admin:ledger_journalentry_changelist"))
    # then
    assert response.status_code == 200
    assert b"reverse_entries" not in response.content


def _movement(client, account, **data):
    url = reverse("admin:ledger_account_movement", args=[account.pk])
    return client.post(url, data, follow=True)


def test_operator_deposits_and_withdraws_from_the_admin_once_per_form(admin_client_):
    # given a user with 10 USDT and the movement page of their main account
    user = user_with_main_balance("10")
    main = account_main(user=user)
    page = admin_client_.get(reverse("admin:ledger_account_change", args=[main.pk]))
    assert b"Deposit or withdraw" in page.content
    form = admin_client_.get(reverse("admin:ledger_account_movement", args=[main.pk]))
    assert form.status_code == 200 and b"10.00 USDT" in form.content
    key = form.context["form"].initial["key"]

    # when the operator books a deposit of 250, and the browser sends the form twice
    for _ in range(2):
        r = _movement(admin_client_, main, direction="deposit", amount="250", key=key)
        assert r.status_code == 200
    # then it is booked once, through the ledger service (an entry against the external world)
    main.refresh_from_db()
    assert main.balance == Decimal("260")
    assert (
        JournalEntry.objects.filter(kind="deposit", idempotency_key=f"admin-deposit:{key}").count()
        == 1
    )
    assert "main balance now 260.00 USDT" in " ".join(str(m) for m in get_messages(r.wsgi_request))

    # and a withdrawal above the balance is refused on the form, changing nothing
    r = _movement(admin_client_, main, direction="withdrawal", amount="1000", key="k2")
    assert r.status_code == 200 and b"Insufficient funds" in r.content
    main.refresh_from_db()
    assert main.balance == Decimal("260")
    # and a typo is refused with the field's message
    r = _movement(admin_client_, main, direction="deposit", amount="12abc", key="k3")
    assert b"Enter a number." in r.content
    # and a withdrawal within the balance is booked
    _movement(admin_client_, main, direction="withdrawal", amount="60", key="k4")
    main.refresh_from_db()
    assert main.balance == Decimal("200")


def test_only_main_accounts_have_a_movement_page(admin_client_):
    from apps.ledger.services import account_system

    external = account_system(Account.Kind.EXTERNAL)
    url = reverse("admin:ledger_account_movement", args=[external.pk])
    assert admin_client_.get(url).status_code == 404


def test_staff_without_the_right_cannot_move_money(client):
    user = user_with_main_balance("10")
    client.force_login(user_make(is_staff=True))
    url = reverse("admin:ledger_account_movement", args=[account_main(user=user).pk])
    assert client.get(url).status_code == 403
