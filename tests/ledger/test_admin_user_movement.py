"""A user who just signed up has no main account yet (made on first use): their admin page links
to "Deposit or withdraw", which makes it and opens its form, so an operator can credit them. An
amount typed with thousands separators is booked and reported (it used to book, then crash
formatting the typed text: a 500 after the money moved)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apps.ledger.models import Account
from apps.ledger.services import account_main
from tests.factories.accounts import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_operator_credits_a_user_who_never_opened_a_page(client):
    client.force_login(StaffFactory(is_superuser=True))
    newcomer = UserFactory(email="newcomer@example.com")
    assert not Account.objects.filter(owner=newcomer).exists()
    page = client.get(f"/admin/accounts/user/{newcomer.pk}/change/").content.decode()
    link = f"/admin/ledger/account/user/{newcomer.pk}/movement/"
    assert f'href="{link}"' in page and "Deposit or withdraw" in page
    # following it makes the main account (once) and opens its form
    r = client.get(link)
    main = Account.objects.get(owner=newcomer, kind="main")
    assert r.status_code == 302 and r["Location"] == f"/admin/ledger/account/{main.pk}/movement/"
    assert client.get(link)["Location"] == r["Location"]
    assert Account.objects.filter(owner=newcomer).count() == 1
    form = client.get(r["Location"])
    key = form.context["form"].initial["key"]
    # typed with a thousands separator: booked, and said with the booked amount
    done = client.post(
        r["Location"], {"direction": "deposit", "amount": "5,000", "key": key}, follow=True
    )
    assert done.status_code == 200
    assert "Deposit of 5,000.00 USDT booked for newcomer@example.com" in done.content.decode()
    assert "main balance now 5,000.00 USDT" in done.content.decode()
    assert account_main(user=newcomer).balance == Decimal("5000")


def test_staff_without_the_right_get_no_link_and_a_403(client):
    from django.contrib.auth.models import Permission

    staff = StaffFactory()
    staff.user_permissions.add(Permission.objects.get(codename="view_user"))
    client.force_login(staff)
    newcomer = UserFactory()
    page = client.get(f"/admin/accounts/user/{newcomer.pk}/change/")
    assert page.status_code == 200 and b"Deposit or withdraw" not in page.content
    assert client.get(f"/admin/ledger/account/user/{newcomer.pk}/movement/").status_code == 403
    assert not Account.objects.filter(owner=newcomer).exists()
