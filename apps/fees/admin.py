"""Fees admin: profit-share settlements and funding rounds, read-only (the settlement services
write them). The schedules (funding every 8 hours, weekly profit share, the funding digest)
are django-celery-beat periodic tasks: edit their times under "Periodic tasks", where "Run
selected tasks" also settles now."""

from __future__ import annotations

from django.contrib import admin

from apps.fees.models import FundingSettlement, ProfitShareSettlement
from apps.fees.selectors import settlement_written_off
from apps.positions.admin import ReadOnlyAdmin


@admin.register(ProfitShareSettlement)
class ProfitShareSettlementAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "copy",
        "trigger",
        "realized",
        "high_water_before",
        "high_water_after",
        "ratio",
        "due",
        "share",
        "owed_after",
        "written_off",
        "entry",
        "created_at",
    )
    list_filter = ("trigger",)
    search_fields = ("copy__follower__email", "copy__lead__nickname", "=copy__id")
    list_select_related = ("copy", "entry")
    date_hierarchy = "created_at"

    @admin.display(description="written off")
    def written_off(self, obj: ProfitShareSettlement):
        return settlement_written_off(obj)


@admin.register(FundingSettlement)
class FundingSettlementAdmin(ReadOnlyAdmin):
    list_display = (
        "slot",
        "instrument",
        "rate",
        "mark",
        "positions",
        "paid_by_users",
        "received_by_users",
        "shortfall",
        "chunks",
        "completed_at",
        "entry",
    )
    list_filter = ("instrument",)
    list_select_related = ("instrument", "entry")
    date_hierarchy = "slot"
