from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from apps.copies.models import Copy
from apps.ledger.models import JournalEntry
from apps.market.feed import FEED_TASK_NAME
from apps.market.models import Price
from apps.positions.models import LeadEvent, Position
from apps.traders.models import LeadTrader


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "users": get_user_model().objects.count(),
        "entries": JournalEntry.objects.count(),
        "positions": Position.objects.count(),
        "copies": Copy.objects.count(),
        "leads": LeadTrader.objects.count(),
        "prices": Price.objects.count(),
        "events": LeadEvent.objects.count(),
    }


def test_seed_demo_builds_the_demo_and_is_idempotent(db):
    # when seed_demo runs on an empty platform
    first = seed()

    # then it made the operator, three leads and a follower copying AlphaWhale
    assert "Demo data created." in first
    assert "operator@smartsync.local" in first and "follower-demo-2026" in first
    User = get_user_model()
    operator = User.objects.get(email="operator@smartsync.local")
    assert operator.is_superuser and operator.check_password("operator-demo-2026")
    assert operator.emailaddress_set.filter(primary=True, verified=True).exists()
    leads = {lead.nickname: lead for lead in LeadTrader.objects.all()}
    assert sorted(leads) == ["AlphaWhale", "SolSurfer", "SteadyEddie"]
    assert str(leads["SolSurfer"].profit_share_ratio.normalize()) == "0.15"
    assert Price.objects.count() == 6
    assert PeriodicTask.objects.filter(name=FEED_TASK_NAME).exists()

    # and the follower's copy mirrors AlphaWhale's BTC long (SPEC 5.2: 1 contract, 100 margin)
    copy = Copy.objects.get(follower__email="follower@smartsync.local")
    assert copy.lead == leads["AlphaWhale"] and copy.status == Copy.Status.ACTIVE
    mirrored = Position.objects.get(account_id=copy.account_id, status="open")
    assert mirrored.instrument.name == "BTC-USDT-SWAP"
    assert (mirrored.side, mirrored.margin_mode, mirrored.leverage) == ("long", "cross", 5)
    assert mirrored.size == 1 and mirrored.margin == 100
    sol = Position.objects.get(account_id=leads["SolSurfer"].futures_account_id)
    assert (sol.side, sol.margin_mode, sol.leverage) == ("short", "isolated", 3)
    assert not LeadEvent.objects.filter(status=LeadEvent.Status.PENDING).exists()
    before = counts()

    # when it runs again
    second = seed()

    # then it says so and nothing new exists
    assert "Demo data found" in second
    assert counts() == before
    assert Position.objects.filter(account_id=copy.account_id, status="open").count() == 1


def test_seed_demo_keeps_existing_prices(db):
    from decimal import Decimal

    from apps.market.services import price_set

    price_set(instrument="BTC-USDT-SWAP", price=Decimal("51000"))
    seed()
    assert Price.objects.get(instrument__name="BTC-USDT-SWAP").price == Decimal("51000")
    assert Price.objects.get(instrument__name="SOL-USDT").price == Decimal("150")
