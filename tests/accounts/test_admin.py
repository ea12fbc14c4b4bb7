"""Admin: e-mail based users (no username anywhere) and notifications."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress

from apps.accounts.models import User
from tests.factories.accounts import PASSWORD, NotificationFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_user_changelist_lists_and_searches_by_email(admin_client):
    UserFactory(email="findme@example.com")
    UserFactory(email="other@example.com")
    response = admin_client.get("/admin/accounts/user/", {"q": "findme"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "findme@example.com" in html and "other@example.com" not in html
    assert "username" not in html.lower()


def test_user_add_form_creates_user_with_email_and_password(admin_client):
    page = admin_client.get("/admin/accounts/user/add/")
    assert page.status_code == 200
    assert 'name="email"' in page.content.decode()
    assert 'name="username"' not in page.content.decode()
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Added@Example.com",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    user = User.objects.get(email="added@example.com")
    assert user.check_password(PASSWORD)
    assert EmailAddress.objects.filter(user=user, email="added@example.com", primary=True).exists()


def test_user_add_form_refuses_duplicate_email_in_any_case(admin_client):
    UserFactory(email="dup@example.com")
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "DUP@example.com",
            "usable_password": "true",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 200
    assert User.objects.filter(email__iexact="dup@example.com").count() == 1


def test_user_change_page_renders(admin_client):
    user = UserFactory()
    assert admin_client.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200


def test_notification_admin_lists_and_filters(admin_client):
    NotificationFactory(kind="liquidation", message="liquidated")
    NotificationFactory(kind="info", message="hello", read=True)
    response = admin_client.get("/admin/accounts/notification/", {"kind__exact": "liquidation"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "liquidated" in html and "hello" not in html
    assert (
        admin_client.get("/admin/accounts/notification/", {"read__exact": "1"}).status_code == 200
    )
