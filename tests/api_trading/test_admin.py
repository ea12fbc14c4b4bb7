"""Trading admin: pages render, adding a lead trader goes through lead_trader_approve, the
actions call lead_trader_end / copy_stop, and nothing else can change money."""

from decimal import Decimal

import pytest

from apps.copies.models import Copy
from apps.ledger.models import Account
from apps.ledger.services import account_main
from apps.traders.models import LeadTrader
from apps.traders.services import lead_position_open
from tests.factories.accounts import UserFactory
from tests.factories.trading import copy_make, lead_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    root = UserFactory(email="root@example.com", is_staff=True, is_superuser=True)
    client.force_login(root)
    return client


def test_trading_admin_pages_render(admin_client_, btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks(execute=True):
        pos = lead_position_open(
            lead=lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="cross",
            leverage=5,
            margin="1000",
        )
    for url in (
        "/admin/traders/leadtrader/",
        f"/admin/traders/leadtrader/{lead.pk}/change/",
        "/admin/traders/leadtrader/add/",
        "/admin/copies/copy/",
        "/admin/copies/copy/?status__exact=active&market__exact=futures",
        f"/admin/copies/copy/{copy.pk}/change/",
        "/admin/positions/position/",
        "/admin/positions/position/?status__exact=open&margin_mode__exact=cross",
        f"/admin/positions/position/?q={copy.account.code}",
        f"/admin/positions/position/{pos.pk}/change/",
        "/admin/positions/leadevent/",
        "/admin/positions/leadevent/?status__exact=pending",
        "/admin/positions/leadevent/?status__exact=failed",
        "/admin/positions/fill/",
        "/admin/fees/profitsharesettlement/",
    ):
        r = admin_client_.get(url)
        assert r.status_code == 200, url
    page = admin_client_.get(f"/admin/copies/copy/{copy.pk}/change/").content.decode()
    assert "899.75" in page  # available, from copy_figures
    listing = admin_client_.get("/admin/traders/leadtrader/").content.decode()
    assert "End strategy" in listing
    assert '<td class="field-copiers">1</td>' in listing
    add = admin_client_.get("/admin/traders/leadtrader/add/").content.decode()
    assert "Approve a lead trader" in add
    assert 'name="email"' in add and 'name="nickname"' in add
    for url in (
        "/admin/copies/copy/add/",
        "/admin/positions/position/add/",
        "/admin/positions/leadevent/add/",
        "/admin/positions/fill/add/",
        "/admin/fees/profitsharesettlement/add/",
    ):
        assert admin_client_.get(url).status_code == 403, url


def test_admin_add_lead_trader_goes_through_the_service(admin_client_):
    user = UserFactory(email="newlead@example.com")
    r = admin_client_.post(
        "/admin/traders/leadtrader/add/",
        {
            "email": "newlead@example.com",
            "nickname": "NewLead",
            "profit_share_ratio": "0.2",
            "max_copiers": "10",
            "bio": "bio",
        },
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    lead = LeadTrader.objects.get(user=user)
    assert (lead.nickname, lead.profit_share_ratio, lead.max_copiers) == (
        "NewLead",
        Decimal("0.2"),
        10,
    )
    assert lead.approved_by.email == "root@example.com"
    # the service created the lead futures and spot accounts
    assert lead.futures_account.kind == Account.Kind.LEAD_FUTURES
    assert lead.spot_account.kind == Account.Kind.LEAD_SPOT


def test_admin_add_lead_trader_shows_service_refusals(admin_client_):
    r = admin_client_.post(
        "/admin/traders/leadtrader/add/",
        {"email": "ghost@example.com", "nickname": "Ghost", "profit_share_ratio": "0.1"},
    )
    assert r.status_code == 200
    assert "No user with the e-mail" in r.content.decode()
    r = admin_client_.post(
        "/admin/traders/leadtrader/add/",
        {"email": "ghost@example.com", "nickname": "Ghost", "profit_share_ratio": "0.5"},
    )
    assert r.status_code == 200
    assert "less than or equal to 0.30" in r.content.decode()
    assert not LeadTrader.objects.exists()


def test_admin_edit_changes_only_bio_max_copiers_and_ratio(admin_client_):
    lead = lead_make(equity="0")
    r = admin_client_.post(
        f"/admin/traders/leadtrader/{lead.pk}/change/",
        {
            "bio": "new bio",
            "max_copiers": "7",
            "profit_share_ratio": "0.25",
            "nickname": "Hacked",
            "status": "ended",
        },
    )
    assert r.status_code == 302, r.content.decode()[:3000]
    lead.refresh_from_db()
    assert (lead.bio, lead.max_copiers, lead.profit_share_ratio) == ("new bio", 7, Decimal("0.25"))
    assert (lead.nickname, lead.status) != ("Hacked", "ended")
    r = admin_client_.post(
        f"/admin/traders/leadtrader/{lead.pk}/change/",
        {"bio": "", "max_copiers": "7", "profit_share_ratio": "0.9"},
    )
    assert r.status_code == 200
    lead.refresh_from_db()
    assert lead.profit_share_ratio == Decimal("0.25")
    assert admin_client_.post(f"/admin/traders/leadtrader/{lead.pk}/delete/").status_code == 403


def test_admin_end_strategy_action(admin_client_, btc, django_capture_on_commit_callbacks):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    with django_capture_on_commit_callbacks(execute=True):
        r = admin_client_.post(
            "/admin/traders/leadtrader/",
            {"action": "end_strategy", "_selected_action": [lead.pk]},
            follow=True,
        )
    assert r.status_code == 200
    assert f"{lead.nickname} ended" in r.content.decode()
    lead.refresh_from_db()
    copy.refresh_from_db()
    assert lead.status == "ended"
    assert copy.status == "stopped"
    # ending again is refused with a message, not an error page
    r = admin_client_.post(
        "/admin/traders/leadtrader/",
        {"action": "end_strategy", "_selected_action": [lead.pk]},
        follow=True,
    )
    assert "not ended" in r.content.decode()


def test_admin_stop_copies_action(admin_client_, btc):
    lead = lead_make()
    copy = copy_make(lead, investment="1000")
    r = admin_client_.post(
        "/admin/copies/copy/",
        {"action": "stop_copies", "_selected_action": [copy.pk]},
        follow=True,
    )
    assert r.status_code == 200
    assert f"Copy #{copy.pk} stopped" in r.content.decode()
    copy.refresh_from_db()
    assert (copy.status, copy.stop_reason) == (Copy.Status.STOPPED, Copy.StopReason.OPERATOR)
    assert account_main(user=copy.follower).balance == Decimal("1000")


def test_admin_copy_list_costs_constant_queries(admin_client_, btc, django_assert_max_num_queries):
    lead = lead_make()
    for _ in range(3):
        copy_make(lead, investment="1000")
    with django_assert_max_num_queries(20) as few:
        admin_client_.get("/admin/copies/copy/")
    for _ in range(6):
        copy_make(lead, investment="1000")
    with django_assert_max_num_queries(len(few.captured_queries)):
        r = admin_client_.get("/admin/copies/copy/")
    assert r.status_code == 200
