"""Pages: layout, notifications (htmx), allauth sign-up / sign-in, the home template."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user
from django.template.loader import render_to_string
from django.test import RequestFactory

from apps.accounts import services
from apps.accounts.context_processors import nav
from apps.accounts.models import User
from tests.factories.accounts import PASSWORD, NotificationFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def with_nav(settings):
    """The ``nav`` context processor as the lead engineer will add it to settings."""
    templates = copy.deepcopy(settings.TEMPLATES)
    processors = templates[0]["OPTIONS"]["context_processors"]
    if "apps.accounts.context_processors.nav" not in processors:
        processors.append("apps.accounts.context_processors.nav")
    settings.TEMPLATES = templates


def test_nav_context_processor_counts_unread_for_logged_in_users_only():
    rf = RequestFactory()
    user = UserFactory()
    NotificationFactory.create_batch(2, user=user)
    NotificationFactory(user=user, read=True)
    request = rf.get("/")
    request.user = user
    assert nav(request) == {"unread_notifications": 2}
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    assert nav(request) == {}


def test_notifications_page_requires_login(client):
    response = client.get("/notifications/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_notifications_page_lists_own_notifications(client, with_nav):
    # given
    me, other = UserFactory(), UserFactory()
    NotificationFactory(
        user=me, kind="missed_copy", message="Missed: price moved beyond slippage tolerance"
    )
    NotificationFactory(user=other, message="somebody else's secret")
    client.force_login(me)
    # when
    response = client.get("/notifications/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "Missed copy" in html
    assert "price moved beyond slippage tolerance" in html
    assert "somebody else" not in html
    assert "Mark all as read" in html
    assert 'id="nav-unread"' in html
    # the layout: brand, nav links, htmx from django-htmx (no CDN), CSRF header on body
    assert "Smart Sync" in html
    assert 'href="/traders/"' in html
    # every page the nav links to exists (portal pages are linked once their routes exist)
    from django.urls import Resolver404, resolve

    for href in re.findall(r"<nav.*?</nav>", html, re.S)[0].split('href="')[1:]:
        path = href.split('"')[0]
        if path.startswith("/") and not path.startswith("/#"):
            try:
                resolve(path.split("?")[0])
            except Resolver404:
                raise AssertionError(f"the nav links to a missing page: {path}") from None
    assert "htmx" in html and "unpkg" not in html and "cdn" not in html.lower()
    assert 'hx-headers=\'{"X-CSRFToken"' in html
    assert "/admin/" not in html  # not staff


def test_staff_sees_admin_link(client):
    client.force_login(StaffFactory())
    assert 'href="/admin/"' in client.get("/notifications/").content.decode()


def test_mark_all_read_htmx_returns_the_partial_and_badge(client, with_nav):
    # given
    me = UserFactory()
    NotificationFactory.create_batch(3, user=me)
    client.force_login(me)
    # when
    response = client.post("/notifications/read/", **HTMX)
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert '<section id="notification-list"' in html
    assert "<html" not in html and "<nav" not in html  # a partial, not the page
    assert "All caught up" in html
    assert 'hx-swap-oob="true"' in html
    assert me.notifications.filter(read=False).count() == 0


def test_mark_all_read_without_htmx_redirects(client):
    me = UserFactory()
    NotificationFactory(user=me)
    client.force_login(me)
    response = client.post("/notifications/read/")
    assert response.status_code == 302
    assert response["Location"] == "/notifications/"
    assert not me.notifications.filter(read=False).exists()


def test_mark_all_read_needs_post_and_csrf(client):
    me = UserFactory()
    client.force_login(me)
    assert client.get("/notifications/read/").status_code == 405
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(me)
    assert strict.post("/notifications/read/", **HTMX).status_code == 403


def test_notifications_htmx_get_returns_partial(client):
    me = UserFactory()
    client.force_login(me)
    html = client.get("/notifications/", **HTMX).content.decode()
    assert '<section id="notification-list"' in html and "<html" not in html
    assert "No notifications yet" in html


def test_allauth_signup_page_renders_in_site_layout(client):
    response = client.get("/accounts/signup/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Smart Sync" in html and 'class="nav-brand"' in html  # our base.html
    assert "css/app.css" in html
    assert 'name="email"' in html


def test_allauth_signup_creates_user_and_logs_in(client):
    # when
    response = client.post(
        "/accounts/signup/",
        {"email": "Signup@Example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    # then: verification is optional, so the new user is signed in straight away
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get()
    assert user.email == "signup@example.com"
    assert get_user(client).pk == user.pk
    assert EmailAddress.objects.filter(user=user, email="signup@example.com").exists()


def test_allauth_signup_weak_password_shows_error(client):
    response = client.post(
        "/accounts/signup/", {"email": "w@example.com", "password1": "123", "password2": "123"}
    )
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert not User.objects.exists()


@pytest.mark.parametrize("make", ["factory", "api"], ids=["factory-user", "api-registered"])
def test_allauth_login_by_email(client, make):
    # given
    if make == "factory":
        user = UserFactory(email="login@example.com")
    else:
        user = services.user_create(email="login@example.com", password=PASSWORD)
    # when
    page = client.get("/accounts/login/")
    response = client.post("/accounts/login/", {"login": "LOGIN@example.com", "password": PASSWORD})
    # then
    assert page.status_code == 200 and "Smart Sync" in page.content.decode()
    assert response.status_code == 302
    assert get_user(client).pk == user.pk


def test_allauth_login_wrong_password_stays_out(client):
    UserFactory(email="login@example.com")
    response = client.post("/accounts/login/", {"login": "login@example.com", "password": "nope"})
    assert response.status_code == 200
    assert not get_user(client).is_authenticated


@pytest.mark.parametrize(
    "url", ["/accounts/password/reset/", "/accounts/logout/", "/accounts/confirm-email/"]
)
def test_other_allauth_pages_render_in_layout(client, url):
    if url == "/accounts/logout/":
        client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 200
    assert "nav-brand" in response.content.decode()


def test_logout_by_post(client):
    client.force_login(UserFactory())
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert not get_user(client).is_authenticated


def test_home_template_renders_prices_and_traders():
    request = RequestFactory().get("/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    html = render_to_string(
        "core/home.html",
        {
            "prices": [
                {
                    "instrument": "BTC-USDT-SWAP",
                    "kind": "perpetual",
                    "price": Decimal("50000.12345678"),
                    "updated_at": datetime(2026, 1, 1, tzinfo=UTC),
                },
                {
                    "instrument": "ETH-USDT",
                    "kind": "spot",
                    "price": Decimal("3000"),
                    "updated_at": None,
                },
            ],
            "traders": [
                {
                    "id": 3,
                    "nickname": "Alpha",
                    "profit_share_ratio": Decimal("0.1"),
                    "copiers": 1234,
                }
            ],
        },
        request=request,
    )
    assert "Smart Sync copy trading" in html
    assert "Total Investment" in html
    assert "BTC-USDT-SWAP" in html and "50,000.12" in html
    assert "ETH-USDT" in html and "3,000.00" in html
    assert 'href="/traders/3/"' in html and "Alpha" in html and "10%" in html and "1,234" in html


def test_home_template_without_data_renders():
    html = render_to_string("core/home.html", {})
    assert "No prices yet." in html
    assert "Lead traders" not in html
