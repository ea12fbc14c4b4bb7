from io import StringIO

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from apps.copies.models import Copy
from apps.ledger.models import JournalEntry
from apps.market.feed import FEED_TASK_NAME
from apps.market.models import Candle, Price, PriceTick
from apps.positions.models import LeadEvent, Position
from apps.stats.models import CopySnapshot, LeadSnapshot, TraderStats
from apps.traders.models import LeadTrader


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
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
        "snapshots": LeadSnapshot.objects.count() + CopySnapshot.objects.count(),
        "stats": TraderStats.objects.count(),
        "candles": Candle.objects.count(),
        "ticks": PriceTick.objects.count(),
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
    sol = Position.objects.get(account_id=leads["SolSurfer"].futures_account_id, status="open")
    assert (sol.side, sol.margin_mode, sol.leverage) == ("short", "isolated", 3)
    assert not LeadEvent.objects.filter(status=LeadEvent.Status.PENDING).exists()
    # and three weeks of history lie behind it (tested below)
    assert TraderStats.objects.filter(period="30d", market="futures").count() == 3
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


def test_seed_demo_history_gives_the_pages_something_to_show(db):
    # when seed_demo builds its 21 days of history
    from datetime import timedelta

    from django.utils import timezone

    from apps.copies.models import CopyEvent

    seed()
    yesterday = timezone.now().date() - timedelta(days=1)
    leads = {lead.nickname: lead for lead in LeadTrader.objects.all()}

    # then every lead has a futures snapshot a day and stats as of yesterday, with trades
    for lead in leads.values():
        days = LeadSnapshot.objects.filter(lead=lead, market="futures").count()
        assert days == 21, (lead, days)
        s = TraderStats.objects.get(lead=lead, market="futures", period="30d")
        assert s.as_of == yesterday and s.roi is not None and s.closed >= 5
        # the history went through the services: its lead events are dated in the past
        assert LeadEvent.objects.filter(
            account_id=lead.futures_account_id, created_at__date__lt=yesterday
        ).exists()
    # SteadyEddie leads spot too: holdings, spot stats, a spot copy holding what it bought
    steady = leads["SteadyEddie"]
    holdings = Position.objects.filter(account_id=steady.spot_account_id, status="open")
    assert holdings.count() >= 2 and all(h.margin_mode == "spot" for h in holdings)
    assert TraderStats.objects.get(lead=steady, market="spot", period="30d").roi is not None
    spot_copy = Copy.objects.get(lead=steady, market="spot")
    assert Position.objects.filter(account_id=spot_copy.account_id, status="open").exists()
    # copies were followed, and one SolSurfer trade was too small to copy: a miss with a reason
    assert CopyEvent.objects.filter(kind="copied").count() > 40
    missed = TraderStats.objects.get(lead=leads["SolSurfer"], market="futures", period="30d")
    assert missed.missed == 1 and missed.missed_reasons[0]["reason"]
    # price history: hour candles for every instrument over the three weeks
    for name in ("BTC-USDT-SWAP", "BTC-USDT", "SOL-USDT-SWAP"):
        hours = Candle.objects.filter(instrument__name=name, interval="1h")
        assert hours.count() > 20 * 24
    # and today's prices are the demo's
    assert Price.objects.get(instrument__name="BTC-USDT-SWAP").price == 50000


def test_seed_demo_without_history(db):
    seed("--days", "0")
    assert not LeadSnapshot.objects.exists() and not Candle.objects.exists()
    assert Copy.objects.count() == 1  # the follower's
