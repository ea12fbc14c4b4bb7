"""Admin: API tokens are listed by holder and date, never with their key (whoever reads a key
can call the API as that user); an operator can revoke one, nothing else. And the admin says
whose it is: "Smart Sync operations", our users apart from allauth's e-mail accounts."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from tests.factories.accounts import StaffFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_the_token_list_and_page_never_show_a_key(admin_client):
    holder = UserFactory(email="holder@example.com")
    token = Token.objects.create(user=holder)
    listing = admin_client.get("/admin/accounts/apitoken/").content.decode()
    assert "holder@example.com" in listing
    assert token.key not in listing
    page = admin_client.get(f"/admin/accounts/apitoken/{holder.pk}/change/")
    assert page.status_code == 200
    assert token.key not in page.content.decode()
    assert admin_client.get("/admin/accounts/apitoken/add/").status_code == 403
    delete_page = admin_client.get(f"/admin/accounts/apitoken/{holder.pk}/delete/")
    assert "API token of holder@example.com" in delete_page.content.decode()
    assert token.key not in delete_page.content.decode()
    # DRF's own token admin, which lists every key, is gone
    assert admin_client.get("/admin/authtoken/tokenproxy/").status_code == 404


def test_an_operator_revokes_a_token(admin_client):
    holder = UserFactory(email="holder@example.com")
    Token.objects.create(user=holder)
    response = admin_client.post(f"/admin/accounts/apitoken/{holder.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Token.objects.filter(user=holder).exists()


def test_the_admin_is_ours(admin_client):
    html = admin_client.get("/admin/").content.decode()
    assert "Smart Sync operations" in html and "Django administration" not in html
    assert "<h1>Operations</h1>" in html or ">Operations<" in html
    assert "Users, tokens and notifications" in html  # apps.accounts, beside allauth's "Accounts"
