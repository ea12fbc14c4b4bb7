"""The fees admin: funding rounds and settlements are listed read-only with their figures, and
the schedules are django-celery-beat periodic tasks an operator can edit."""

import pytest
from django_celery_beat.models import PeriodicTask

from apps.fees.services import funding_settle, funding_slot, profit_share_settle_active
from tests.factories.accounts import UserFactory
from tests.factories.trading import copy_make, lead_make
from tests.fees.conftest import backdate_positions, book_realized, open_direct

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client):
    client.force_login(UserFactory(email="root@example.com", is_staff=True, is_superuser=True))
    return client


def test_funding_rounds_and_settlements_are_listed_read_only(admin, btc):
    # given a round (one long paying 0.05) and a settlement that owes 10 of 20
    copy = copy_make(lead_make(ratio="0.10"))
    book_realized(copy, "200")
    open_direct(copy.account_id, margin="1190", leverage=1)
    profit_share_settle_active(trigger="operator")
    backdate_positions(funding_slot())
    funding_settle()
    rounds = admin.get("/admin/fees/fundingsettlement/").content.decode()
    assert "BTC-USDT-SWAP" in rounds and '<td class="field-paid_by_users">0.05000000</td>' in rounds
    settlements = admin.get("/admin/fees/profitsharesettlement/").content.decode()
    assert '<td class="field-owed_after">10.00000000</td>' in settlements
    assert '<td class="field-written_off">0.00000000</td>' in settlements
    for url in ("/admin/fees/fundingsettlement/add/", "/admin/fees/profitsharesettlement/add/"):
        assert admin.get(url).status_code == 403


def test_the_schedules_are_editable_periodic_tasks(admin):
    task = PeriodicTask.objects.get(task="apps.fees.tasks.profit_share_weekly")
    page = admin.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    assert page.status_code == 200 and "Profit share weekly settlement" in page.content.decode()
