"""Copies admin lists: copies (with their figures), copy events and lead events cost a constant
number of queries however many rows; a copy's page lists its history (lead event and position
of every row) in constant queries; lead events are found by the lead's nickname; nothing can be
added, changed or deleted (stopping and re-dispatching are actions, tested in
tests/api_trading/test_admin.py and tests/copies/test_failures.py)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.copies.models import Copy, CopyEvent
from apps.positions.models import LeadEvent
from apps.traders.services import lead_position_close, lead_position_open
from tests.admin_lists import assert_constant_queries, world_grow
from tests.factories.accounts import StaffFactory
from tests.factories.trading import copy_make, lead_make, set_price

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_copy_lists_cost_the_same_queries_for_more_rows(
    operator, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    world_grow(2, capture=capture)
    assert_constant_queries(
        operator,
        {
            "copies": "/admin/copies/copy/",
            "active copies": "/admin/copies/copy/?status__exact=active",
            "copy events": "/admin/copies/copyevent/",
            "lead events": "/admin/positions/leadevent/",
            "mirrored lead events": "/admin/positions/leadevent/?status__exact=mirrored",
            # (apps/traders/admin.py: guarded here, its copiers counted in the list's query)
            "lead traders": "/admin/traders/leadtrader/",
        },
        lambda: world_grow(6, capture=capture),
    )


def test_a_copy_page_lists_its_history_in_constant_queries(
    operator, django_capture_on_commit_callbacks
):
    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make()
    copy = copy_make(lead, investment="1000")

    def trade(times):
        for _ in range(times):
            with django_capture_on_commit_callbacks(execute=True):
                pos = lead_position_open(
                    lead=lead,
                    instrument="BTC-USDT-SWAP",
                    side="long",
                    margin_mode="cross",
                    leverage=5,
                    margin="100",
                )
            with django_capture_on_commit_callbacks(execute=True):
                lead_position_close(lead=lead, position=pos, fraction="1")

    def cost():
        url = f"/admin/copies/copy/{copy.pk}/change/"
        operator.get(url)  # warm the caches
        with CaptureQueriesContext(connection) as ctx:
            page = operator.get(url)
        assert page.status_code == 200
        return len(ctx.captured_queries), CopyEvent.objects.filter(copy=copy).count()

    trade(1)
    few, events_few = cost()
    trade(5)
    many, events_many = cost()
    assert events_many >= events_few + 10
    assert many == few


def test_lead_events_are_found_by_the_leads_nickname(operator, django_capture_on_commit_callbacks):
    world_grow(1, capture=django_capture_on_commit_callbacks)
    world_grow(1, capture=django_capture_on_commit_callbacks)
    first, second = Copy.objects.order_by("id").values_list("lead__nickname", "lead_id")
    r = operator.get("/admin/positions/leadevent/", {"q": first[0]})
    shown = set(r.context["cl"].result_list)
    assert shown and shown == set(
        LeadEvent.objects.filter(account__lead_trader_futures__id=first[1])
    )
    r = operator.get("/admin/copies/copyevent/", {"q": second[0]})
    assert {e.copy.lead_id for e in r.context["cl"].result_list} == {second[1]}


@pytest.mark.parametrize(
    "url", ["/admin/copies/copy/", "/admin/copies/copyevent/", "/admin/positions/leadevent/"]
)
def test_copies_and_events_cannot_be_added_changed_or_deleted(
    operator, django_capture_on_commit_callbacks, url
):
    world_grow(1, capture=django_capture_on_commit_callbacks)
    model = {
        "/admin/copies/copy/": Copy,
        "/admin/copies/copyevent/": CopyEvent,
        "/admin/positions/leadevent/": LeadEvent,
    }[url]
    obj = model.objects.first()
    before = list(model.objects.order_by("pk").values())
    assert operator.get(f"{url}add/").status_code == 403
    assert operator.post(f"{url}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    assert operator.post(f"{url}{obj.pk}/change/", {"status": "stopped"}).status_code == 403
    assert b'value="delete_selected"' not in operator.get(url).content
    assert list(model.objects.order_by("pk").values()) == before
