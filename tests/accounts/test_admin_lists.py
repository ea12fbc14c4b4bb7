"""Accounts admin lists: users and notifications cost a constant number of queries however many
rows; notifications (what the services told people about their money) are read-only."""

from __future__ import annotations

import pytest

from apps.accounts.models import Notification
from tests.admin_lists import assert_constant_queries, world_grow
from tests.factories.accounts import NotificationFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_user_and_notification_lists_cost_the_same_queries_for_more_rows(
    operator, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    world_grow(2, capture=capture)
    assert_constant_queries(
        operator,
        {
            "users": "/admin/accounts/user/",
            "notifications": "/admin/accounts/notification/",
            "unread notifications": "/admin/accounts/notification/?read__exact=0",
        },
        lambda: world_grow(6, capture=capture),
    )


def test_notifications_are_read_only(operator):
    note = NotificationFactory(kind="profit_share", message="Profit share settled: 12.00 USDT")
    base = "/admin/accounts/notification/"
    page = operator.get(f"{base}{note.pk}/change/")
    assert page.status_code == 200 and "Profit share settled: 12.00 USDT" in page.content.decode()
    assert b'name="_save"' not in page.content
    assert operator.get(f"{base}add/").status_code == 403
    r = operator.post(f"{base}{note.pk}/change/", {"message": "rewritten", "kind": "info"})
    assert r.status_code == 403
    assert operator.post(f"{base}{note.pk}/delete/", {"post": "yes"}).status_code == 403
    note.refresh_from_db()
    assert (note.kind, note.message) == ("profit_share", "Profit share settled: 12.00 USDT")
    assert Notification.objects.filter(pk=note.pk).exists()
    # searchable by the person's e-mail and the words
    found = operator.get(base, {"q": "12.00 USDT"}).context["cl"].result_list
    assert list(found) == [note]
    found = operator.get(base, {"q": note.user.email}).context["cl"].result_list
    assert list(found) == [note]
