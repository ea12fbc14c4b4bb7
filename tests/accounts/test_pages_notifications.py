"""The notifications page: all or unread only, a link to the copy a notice is about, mark one
or all read with real forms (redirect back without JavaScript, the list partial plus the nav
badge out-of-band with htmx), nobody else's notification, and constant queries."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from tests.factories.accounts import NotificationFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _badge(html: str) -> str:
    return re.search(r'<span id="nav-unread"[^>]*>(\d+)<', html).group(1)


def test_unread_tab_lists_only_unread_ones(client):
    me = UserFactory()
    NotificationFactory(user=me, message="old news", read=True)
    NotificationFactory(user=me, message="fresh news")
    client.force_login(me)
    everything = client.get("/notifications/").content.decode()
    unread = client.get("/notifications/?show=unread").content.decode()
    assert "old news" in everything and "fresh news" in everything
    assert "fresh news" in unread and "old news" not in unread
    assert 'aria-current="page">Unread' in unread
    assert 'Unread <span class="count">(1)</span>' in everything


def test_empty_unread_tab_says_so(client):
    me = UserFactory()
    NotificationFactory(user=me, read=True)
    client.force_login(me)
    html = client.get("/notifications/?show=unread").content.decode()
    assert "No unread notifications." in html and "All caught up" in html


def test_mark_all_as_read_is_a_real_form(client):
    me = UserFactory()
    NotificationFactory(user=me)
    client.force_login(me)
    html = client.get("/notifications/").content.decode()
    assert '<form method="post" action="/notifications/read/"' in html
    assert 'hx-post="/notifications/read/"' in html


def test_mark_one_read_with_htmx_swaps_the_list_and_the_badge(client):
    # given three unread
    me = UserFactory()
    first, second, third = NotificationFactory.create_batch(3, user=me)
    client.force_login(me)
    page = client.get("/notifications/").content.decode()
    assert _badge(page) == "3"
    assert page.count(">Mark as read<") == 3
    # when one is marked read
    response = client.post("/notifications/read/", {"id": second.pk}, **HTMX)
    # then only that one, and the partial carries the badge out-of-band
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="notification-list"') and "<nav" not in html
    assert "2 unread" in html and html.count(">Mark as read<") == 2
    assert 'hx-swap-oob="true"' in html and _badge(html) == "2"
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.read and not first.read


def test_mark_one_read_without_javascript_returns_to_the_same_list(client):
    me = UserFactory()
    notice = NotificationFactory(user=me)
    client.force_login(me)
    response = client.post("/notifications/read/", {"id": notice.pk, "show": "unread", "page": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/notifications/?show=unread"
    notice.refresh_from_db()
    assert notice.read


@pytest.mark.parametrize("make_id", ["someone_else", "unknown", "not_a_number"])
def test_marking_a_notification_that_is_not_yours_is_404_and_changes_nothing(client, make_id):
    me, other = UserFactory(), UserFactory()
    mine = NotificationFactory(user=me)
    theirs = NotificationFactory(user=other)
    ident = {"someone_else": theirs.pk, "unknown": 999999, "not_a_number": "1 OR 1=1"}[make_id]
    client.force_login(me)
    assert client.post("/notifications/read/", {"id": ident}).status_code == 404
    theirs.refresh_from_db()
    mine.refresh_from_db()
    assert not theirs.read and not mine.read


def test_a_notice_about_a_copy_links_to_its_details(client):
    me = UserFactory()
    NotificationFactory(
        user=me, kind="copy_started", message="You started copying X", data={"copy": 7}
    )
    NotificationFactory(user=me, message="no copy here")
    client.force_login(me)
    html = client.get("/notifications/").content.decode()
    try:
        url = reverse("copy_detail", args=[7])
    except NoReverseMatch:  # Copy Trade Details lands with the follower pages
        assert "Copy Trade Details" not in html
    else:
        assert html.count(f'href="{url}"') == 1


def test_pages_keep_the_unread_filter(client):
    me = UserFactory()
    NotificationFactory.create_batch(30, user=me)
    client.force_login(me)
    html = client.get("/notifications/?show=unread").content.decode()
    assert "Page 1 of 2" in html and 'href="?show=unread&amp;page=2"' in html


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_notification_queries_do_not_grow_with_rows(client, django_assert_max_num_queries):
    me = UserFactory()
    NotificationFactory.create_batch(2, user=me, data={"copy": 1})
    client.force_login(me)
    urls = ["/notifications/", "/notifications/?show=unread", "/notifications/?page=2"]
    small = [_count(client, u) for u in urls]
    NotificationFactory.create_batch(60, user=me, data={"copy": 1})
    big = [_count(client, u) for u in urls]
    assert big == small
    with django_assert_max_num_queries(8):
        client.get("/notifications/")
    with CaptureQueriesContext(connection) as ctx:
        client.post("/notifications/read/", {"id": me.notifications.first().pk}, **HTMX)
    assert len(ctx) <= 10
