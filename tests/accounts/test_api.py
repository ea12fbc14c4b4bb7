"""Accounts API: register, token, notifications (API.md, Accounts)."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.urls import reverse
from rest_framework.authtoken.models import Token

from apps.accounts import services
from apps.accounts.models import User
from tests.factories.accounts import PASSWORD, NotificationFactory, UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register/"
TOKEN = "/api/v1/auth/token/"
NOTIFICATIONS = "/api/v1/notifications/"
READ = "/api/v1/notifications/read/"


def assert_error(response, status, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "code", "fields"}
    assert body["detail"]
    if field:
        assert field in body["fields"], body
    return body


def test_urls_have_the_documented_paths():
    assert reverse("api:auth-register") == REGISTER
    assert reverse("api:auth-token") == TOKEN
    assert reverse("api:notification-list") == NOTIFICATIONS
    assert reverse("api:notification-read") == READ


def test_register_creates_user_and_returns_id_and_email(api_client):
    # when
    response = api_client.post(
        REGISTER, {"email": "New@Example.com", "password": PASSWORD}, format="json"
    )
    # then
    assert response.status_code == 201, response.content
    user = User.objects.get()
    assert response.json() == {"id": user.pk, "email": "new@example.com"}
    assert "password" not in response.json()
    assert EmailAddress.objects.filter(user=user, primary=True).exists()


@pytest.mark.parametrize(
    "body,field",
    [
        ({"email": "not-an-email", "password": PASSWORD}, "email"),
        ({"email": "", "password": PASSWORD}, "email"),
        ({"password": PASSWORD}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": ""}, "password"),
        ({"email": "a@example.com", "password": "short"}, "password"),
        ({"email": "a@example.com", "password": "123456789012"}, "password"),
        ({"email": "a@example.com", "password": "password"}, "password"),
        ({"email": "a@example.com", "password": "x" * 129}, "password"),
    ],
    ids=[
        "bad-email",
        "blank-email",
        "no-email",
        "no-password",
        "blank-password",
        "short-password",
        "numeric-password",
        "common-password",
        "long-password",
    ],
)
def test_register_bad_input_is_400_with_field_and_creates_nothing(api_client, body, field):
    response = api_client.post(REGISTER, body, format="json")
    assert_error(response, 400, field)
    assert not User.objects.exists()


def test_register_duplicate_email_is_400_email_taken(api_client):
    UserFactory(email="taken@example.com")
    response = api_client.post(
        REGISTER, {"email": "TAKEN@example.com", "password": PASSWORD}, format="json"
    )
    body = assert_error(response, 400, "email")
    assert body["code"] == "email_taken"
    assert User.objects.count() == 1


def test_register_ignores_a_session_and_needs_no_csrf(client):
    # A logged-in browser tab posting JSON must not trip over CSRF or act as the session user.
    client.force_login(UserFactory())
    from rest_framework.test import APIClient

    api = APIClient(enforce_csrf_checks=True)
    api.cookies = client.cookies
    response = api.post(REGISTER, {"email": "z@example.com", "password": PASSWORD}, format="json")
    assert response.status_code == 201


def test_token_happy_path_and_token_authenticates(api_client):
    # given
    user = UserFactory()
    NotificationFactory(user=user)
    # when
    response = api_client.post(TOKEN, {"email": user.email, "password": PASSWORD}, format="json")
    # then
    assert response.status_code == 200, response.content
    token = response.json()["token"]
    assert Token.objects.get(user=user).key == token
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get(NOTIFICATIONS).json()["count"] == 1


def test_token_for_a_registered_user(api_client):
    api_client.post(REGISTER, {"email": "r@example.com", "password": PASSWORD}, format="json")
    response = api_client.post(
        TOKEN, {"email": "r@example.com", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "email,password",
    [("known@example.com", "wrong-password"), ("unknown@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_token_bad_credentials_same_answer_for_both(api_client, email, password):
    UserFactory(email="known@example.com")
    response = api_client.post(TOKEN, {"email": email, "password": password}, format="json")
    body = assert_error(response, 400)
    assert body["detail"] == "Unable to log in with the provided e-mail and password."
    assert body["code"] == "invalid_credentials"
    assert not Token.objects.exists()


@pytest.mark.parametrize("body", [{}, {"email": "x"}, {"email": "a@example.com"}])
def test_token_missing_fields_is_400(api_client, body):
    assert_error(api_client.post(TOKEN, body, format="json"), 400)


def test_auth_endpoints_are_throttled(api_client, settings):
    # The limits themselves: tests/api/test_throttling.py. Here: both endpoints have one.
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"register": "1/m", "token": "2/m", "token_account": "9/m"},
    }
    try:
        codes = [
            api_client.post(TOKEN, {"email": "a@b.com", "password": "x"}, format="json").status_code
            for _ in range(3)
        ]
        assert codes == [400, 400, 429]
        assert_error(api_client.post(TOKEN, {}, format="json"), 429)
        body = {"email": "n@example.com", "password": PASSWORD}
        assert api_client.post(REGISTER, body, format="json").status_code == 201
        assert_error(api_client.post(REGISTER, body, format="json"), 429)
    finally:
        cache.clear()


@pytest.mark.parametrize("method,url", [("get", NOTIFICATIONS), ("post", READ)])
def test_notifications_need_authentication(api_client, method, url):
    response = getattr(api_client, method)(url)
    assert_error(response, 401)
    assert response["WWW-Authenticate"] == "Token"


def test_notifications_list_shows_only_own_with_documented_fields(api_client):
    # given
    me, other = UserFactory(), UserFactory()
    mine = NotificationFactory(user=me, kind="missed_copy", message="Missed: below minimum size")
    NotificationFactory(user=other)
    api_client.force_authenticate(me)
    # when
    body = api_client.get(NOTIFICATIONS).json()
    # then
    assert body["count"] == 1
    (row,) = body["results"]
    assert set(row) == {"id", "kind", "message", "created_at", "read"}
    assert row["id"] == mine.pk
    assert row["kind"] == "missed_copy"
    assert row["read"] is False


def test_notifications_list_is_paginated_and_filters_unread(api_client):
    me = UserFactory()
    NotificationFactory.create_batch(3, user=me)
    services.notifications_mark_read(user=me, ids=[me.notifications.first().pk])
    api_client.force_authenticate(me)
    page = api_client.get(NOTIFICATIONS, {"page_size": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]
    assert api_client.get(NOTIFICATIONS, {"unread": "true"}).json()["count"] == 2


def test_mark_read_all_and_by_ids(api_client):
    # given
    me, other = UserFactory(), UserFactory()
    a, b, c = NotificationFactory.create_batch(3, user=me)
    theirs = NotificationFactory(user=other)
    api_client.force_authenticate(me)
    # when: some (somebody else's id is ignored)
    response = api_client.post(READ, {"ids": [a.pk, theirs.pk]}, format="json")
    # then
    assert response.status_code == 200
    assert response.json() == {"updated": 1}
    theirs.refresh_from_db()
    assert theirs.read is False
    # when: all the rest
    assert api_client.post(READ, {}, format="json").json() == {"updated": 2}
    assert api_client.post(READ, format="json").json() == {"updated": 0}


def test_mark_read_bad_ids_is_400(api_client):
    api_client.force_authenticate(UserFactory())
    assert_error(api_client.post(READ, {"ids": ["abc"]}, format="json"), 400, "ids")
    assert_error(api_client.post(READ, {"ids": "1"}, format="json"), 400, "ids")


def test_schema_documents_the_accounts_endpoints(api_client):
    response = api_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (REGISTER, TOKEN, NOTIFICATIONS, READ):
        assert path in paths
    register = paths[REGISTER]["post"]
    assert {"201", "400"} <= set(register["responses"])
