"""``manage.py seed_demo``: a demo platform built through the real services only.

Prices for the six instruments (only where none is set yet), the simulated feed schedule, an
operator, three lead traders with funded lead futures accounts, a follower copying AlphaWhale,
and two lead positions, AlphaWhale's mirrored into the follower's copy.

Idempotent: when the operator and the follower's copy already exist, nothing new is created.
Every step is also safe to repeat on its own (deposit and transfer keys, existence checks), so
an interrupted run finishes on the next one. Money only moves through ledger services.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from apps.copies.models import Copy
from apps.ledger.services import deposit_credit
from apps.market.feed import feed_schedule_ensure
from apps.market.models import Price
from apps.market.services import instruments_ensure, price_set
from apps.positions.models import Position
from apps.traders.models import LeadTrader
from apps.traders.services import lead_position_open, lead_trader_approve, lead_transfer

OPERATOR_EMAIL = "operator@smartsync.local"
OPERATOR_PASSWORD = "operator-demo-2026"
LEAD_PASSWORD = "lead-demo-2026"
FOLLOWER_EMAIL = "follower@smartsync.local"
FOLLOWER_PASSWORD = "follower-demo-2026"

PRICES = {
    "BTC-USDT-SWAP": "50000",
    "BTC-USDT": "50000",
    "ETH-USDT-SWAP": "3000",
    "ETH-USDT": "3000",
    "SOL-USDT-SWAP": "150",
    "SOL-USDT": "150",
}

LEADS = [
    {
        "email": "lead1@smartsync.local",
        "nickname": "AlphaWhale",
        "ratio": "0.10",
        "bio": "Trend follower on BTC perpetuals. Few trades, held for days, 5x at most.",
    },
    {
        "email": "lead2@smartsync.local",
        "nickname": "SteadyEddie",
        "ratio": "0.08",
        "bio": "Low leverage, tight risk: capital preservation first, steady gains second.",
    },
    {
        "email": "lead3@smartsync.local",
        "nickname": "SolSurfer",
        "ratio": "0.15",
        "bio": "Short-term swings on SOL, both directions, isolated margin on every trade.",
    },
]
LEAD_DEPOSIT = Decimal("20000")
LEAD_FUTURES = Decimal("10000")
FOLLOWER_DEPOSIT = Decimal("5000")
FOLLOWER_INVESTMENT = "1000"

# nickname -> the one position the demo opens for that lead
LEAD_POSITIONS = {
    "AlphaWhale": {
        "instrument": "BTC-USDT-SWAP",
        "side": "long",
        "margin_mode": "cross",
        "leverage": 5,
        "margin": "1000",
    },
    "SolSurfer": {
        "instrument": "SOL-USDT-SWAP",
        "side": "short",
        "margin_mode": "isolated",
        "leverage": 3,
        "margin": "500",
    },
}


class Command(BaseCommand):
    help = "Seed a demo: prices, feed schedule, operator, three lead traders, a copying follower."

    def handle(self, *args, **options):
        User = get_user_model()
        instruments_ensure()
        task = feed_schedule_ensure()

        operator = User.objects.filter(email__iexact=OPERATOR_EMAIL).first()
        follower = User.objects.filter(email__iexact=FOLLOWER_EMAIL).first()
        if (
            operator is not None
            and follower is not None
            and Copy.objects.filter(follower=follower, lead__nickname="AlphaWhale").exists()
        ):
            self.stdout.write(
                "Demo data found (operator and the follower's copy exist): nothing to do."
            )
            self._logins()
            return

        self._prices()
        operator = self._user(OPERATOR_EMAIL, OPERATOR_PASSWORD, superuser=True)
        leads = {}
        for spec in LEADS:
            user = self._user(spec["email"], LEAD_PASSWORD)
            deposit_credit(
                user=user,
                amount=LEAD_DEPOSIT,
                key=f"demo-deposit:{spec['email']}",
                operator=operator,
            )
            lead = LeadTrader.objects.filter(user=user).first() or lead_trader_approve(
                email=spec["email"],
                nickname=spec["nickname"],
                profit_share_ratio=spec["ratio"],
                bio=spec["bio"],
                operator=operator,
            )
            lead_transfer(
                lead=lead,
                market="futures",
                direction="in",
                amount=LEAD_FUTURES,
                key=f"demo-transfer:{spec['email']}",
            )
            leads[spec["nickname"]] = lead
            self.stdout.write(f"Lead trader {lead.nickname} ready ({spec['email']}).")

        follower = self._user(FOLLOWER_EMAIL, FOLLOWER_PASSWORD)
        deposit_credit(
            user=follower,
            amount=FOLLOWER_DEPOSIT,
            key=f"demo-deposit:{FOLLOWER_EMAIL}",
            operator=operator,
        )
        alpha = leads["AlphaWhale"]
        if not Copy.objects.filter(follower=follower, lead=alpha).exists():
            from apps.copies.services import copy_start

            copy_start(follower=follower, lead=alpha, total_investment=FOLLOWER_INVESTMENT)
            self.stdout.write(
                f"{FOLLOWER_EMAIL} copies AlphaWhale with {FOLLOWER_INVESTMENT} USDT."
            )

        for nickname, spec in LEAD_POSITIONS.items():
            lead = leads[nickname]
            if not Position.objects.filter(account_id=lead.futures_account_id).exists():
                lead_position_open(lead=lead, **spec)
                self.stdout.write(f"{nickname} opened {spec['side']} {spec['instrument']}.")

        self._mirror_now()
        self.stdout.write(
            f"Feed schedule '{task.name}': every {task.interval.every}s, "
            f"{'enabled' if task.enabled else 'disabled (PRICE_FEED is not simulated)'}."
        )
        self.stdout.write(self.style.SUCCESS("Demo data created."))
        self._logins()

    def _prices(self) -> None:
        priced = set(Price.objects.values_list("instrument__name", flat=True))
        for name, price in PRICES.items():
            if name not in priced:
                price_set(instrument=name, price=Decimal(price), source="operator")

    def _user(self, email: str, password: str, *, superuser: bool = False):
        User = get_user_model()
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            make = User.objects.create_superuser if superuser else User.objects.create_user
            with transaction.atomic():
                user = make(email=email, password=password)
        try:
            from apps.accounts.services import user_email_address_ensure
        except ImportError:  # pragma: no cover - allauth rows are optional for the demo
            return user
        address = user_email_address_ensure(user=user)
        if not address.verified:  # demo addresses: no verification mail to wait for
            address.verified = True
            address.save(update_fields=["verified"])
        return user

    def _mirror_now(self) -> None:
        """Mirror now rather than wait for the worker (it may not be up under ``make run``):
        idempotent, so the task queued on commit becomes a no-op."""
        from apps.copies.mirroring import lead_event_mirror
        from apps.positions.models import LeadEvent

        for event_id in (
            LeadEvent.objects.filter(status=LeadEvent.Status.PENDING)
            .order_by("pk")
            .values_list("pk", flat=True)
        ):
            lead_event_mirror(event_id)

    def _logins(self) -> None:
        rows = [("operator (admin)", OPERATOR_EMAIL, OPERATOR_PASSWORD)]
        rows += [(f"lead {s['nickname']}", s["email"], LEAD_PASSWORD) for s in LEADS]
        rows.append(("follower", FOLLOWER_EMAIL, FOLLOWER_PASSWORD))
        w1 = max(len(r[0]) for r in rows)
        w2 = max(len(r[1]) for r in rows)
        self.stdout.write("")
        self.stdout.write(f"{'role':<{w1}}  {'e-mail':<{w2}}  password")
        for role, email, password in rows:
            self.stdout.write(f"{role:<{w1}}  {email:<{w2}}  {password}")
