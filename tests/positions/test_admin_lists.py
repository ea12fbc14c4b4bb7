"""Positions admin lists: positions and fills cost a constant number of queries however many rows,
filter by who holds them (lead trader or follower) and search by the holder's e-mail; nothing can
be added, changed or deleted."""

from __future__ import annotations

import pytest

from apps.copies.models import Copy
from apps.positions.models import Fill, Position
from tests.admin_lists import assert_constant_queries, world_grow
from tests.factories.accounts import StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_position_and_fill_lists_cost_the_same_queries_for_more_rows(
    operator, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    world_grow(2, capture=capture)
    assert_constant_queries(
        operator,
        {
            "positions": "/admin/positions/position/",
            "followers' open positions": "/admin/positions/position/?holder=follower&status__exact=open",
            "fills": "/admin/positions/fill/",
            "followers' fills": "/admin/positions/fill/?holder=follower",
        },
        lambda: world_grow(6, capture=capture),
    )


def test_holder_filter_and_search_by_email(operator, django_capture_on_commit_callbacks):
    # given one lead with 2 copies: 1 lead position and 2 follower positions (one per copy)
    world_grow(2, capture=django_capture_on_commit_callbacks)
    lead_position = Position.objects.get(lead_position__isnull=True)
    follower_positions = set(Position.objects.filter(lead_position=lead_position))
    assert len(follower_positions) == 2

    def shown(url, **params):
        r = operator.get(url, params)
        assert r.status_code == 200
        return set(r.context["cl"].result_list)

    assert shown("/admin/positions/position/", holder="lead") == {lead_position}
    assert shown("/admin/positions/position/", holder="follower") == follower_positions
    copy = Copy.objects.order_by("id").first()
    assert shown("/admin/positions/position/", q=copy.follower.email) == set(
        Position.objects.filter(account_id=copy.account_id)
    )
    assert shown("/admin/positions/position/", q=str(lead_position.pk)) >= {lead_position}
    assert shown("/admin/positions/fill/", holder="lead") == set(
        Fill.objects.filter(position=lead_position)
    )
    assert shown("/admin/positions/fill/", q=copy.follower.email) == set(
        Fill.objects.filter(position__account_id=copy.account_id)
    )


@pytest.mark.parametrize("model", ["position", "fill"])
def test_positions_and_fills_cannot_be_added_changed_or_deleted(
    operator, django_capture_on_commit_callbacks, model
):
    world_grow(1, capture=django_capture_on_commit_callbacks)
    obj = {"position": Position, "fill": Fill}[model].objects.first()
    before = list(
        obj.__class__.objects.order_by("pk").values_list(
            "pk", "price" if model == "fill" else "size"
        )
    )
    base = f"/admin/positions/{model}/"
    assert operator.get(f"{base}add/").status_code == 403
    assert operator.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    assert operator.post(f"{base}{obj.pk}/change/", {"size": "9", "price": "1"}).status_code == 403
    assert b'value="delete_selected"' not in operator.get(base).content
    after = list(
        obj.__class__.objects.order_by("pk").values_list(
            "pk", "price" if model == "fill" else "size"
        )
    )
    assert after == before
