"""A small world for the API tests that check answers against the schema: the staff user is
also a lead trader with an open sub-position copied by a follower, and a follower with a copy of
another lead (its copied position and events), with a notification. So every list answers real
rows. Money enters by deposits and moves through the services (the ledger stays balanced)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

STAFF_EMAIL = "api-staff@example.com"


@dataclass(frozen=True)
class World:
    token: str
    copy_id: int
    lead_id: int  # the staff user's own lead trader id
    other_lead_id: int


def build_world() -> World:
    """Needs the database; creates the seeded instruments again (a flush may have removed them)."""
    from rest_framework.authtoken.models import Token

    from apps.accounts.services import notification_create
    from apps.market.specs import SPECS_BY_NAME
    from apps.traders.services import lead_position_open, lead_trader_approve, lead_transfer
    from tests.factories.ledger import user_with_main_balance
    from tests.factories.market import instrument
    from tests.factories.trading import copy_make, lead_make, set_price

    for name in SPECS_BY_NAME:
        instrument(name)
    set_price("BTC-USDT-SWAP", "50000")

    user = user_with_main_balance("5000", email=STAFF_EMAIL, password="api-password-1")
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    me_as_lead = lead_trader_approve(
        email=STAFF_EMAIL, nickname="ApiLead", profit_share_ratio=Decimal("0.1")
    )
    lead_transfer(lead=me_as_lead, market="futures", direction="in", amount="2000")
    copy_make(me_as_lead, investment="500")
    other = lead_make(nickname="OtherLead")
    copy = copy_make(other, investment="1000", follower=user)
    for lead in (me_as_lead, other):
        lead_position_open(
            lead=lead,
            instrument="BTC-USDT-SWAP",
            side="long",
            margin_mode="cross",
            leverage=5,
            margin="200",
        )
    # a spot holding too (lead/spot/holdings/)
    from apps.traders.services import lead_spot_buy

    set_price("BTC-USDT", "50000")
    lead_transfer(lead=me_as_lead, market="spot", direction="in", amount="1000")
    lead_spot_buy(lead=me_as_lead, instrument="BTC-USDT", amount="100")
    # a settlement that found nothing due (copies/{id}/settlements/ has a row; no money moves)
    from apps.fees.models import ProfitShareSettlement

    ProfitShareSettlement.objects.create(
        copy=copy, trigger="operator", realized=Decimal("0"), high_water_before=Decimal("0"),
        high_water_after=Decimal("0"), ratio=copy.profit_share_ratio, share=Decimal("0"),
    )  # fmt: skip
    notification_create(user=user, kind="copy_started", message="A notice")
    return World(
        token=Token.objects.create(user=user).key,
        copy_id=copy.pk,
        lead_id=me_as_lead.pk,
        other_lead_id=other.pk,
    )
