"""Fees admin: profit-share settlements and funding rounds, read-only (the settlement services
write them). The schedules (funding every 8 hours, weekly profit share, the funding digest)
are django-celery-beat periodic tasks: edit their times under "Periodic tasks", where "Run
selected tasks" also settles now.

Filters find what needs a look: settlements that left a debt owed, funding rounds not completed
(a run that stopped between chunks resumes on the next one) or with a shortfall."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F

from apps.fees.models import FundingSettlement, ProfitShareSettlement
from apps.fees.selectors import settlement_written_off
from apps.positions.admin import ReadOnlyAdmin


class OwedFilter(admin.SimpleListFilter):
    title = "left owed"
    parameter_name = "owed"

    def lookups(self, request, model_admin):
        return [
            ("owed", "Left a debt owed"),
            ("written_off", "Wrote some off"),
            ("paid", "Paid in full"),
        ]

    def queryset(self, request, queryset):
        unpaid = F("due") - F("share") - F("owed_after")  # fees.selectors.settlement_written_off
        if self.value() == "owed":
            return queryset.filter(owed_after__gt=0)
        if self.value() == "written_off":
            return queryset.alias(_off=unpaid).filter(_off__gt=0)
        if self.value() == "paid":
            return queryset.filter(owed_after=0, share=F("due"))
        return queryset


class RoundFilter(admin.SimpleListFilter):
    title = "round"
    parameter_name = "round"

    def lookups(self, request, model_admin):
        return [
            ("incomplete", "Not completed"),
            ("shortfall", "With a shortfall"),
            ("complete", "Completed"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "incomplete":
            return queryset.filter(completed_at__isnull=True)
        if self.value() == "shortfall":
            return queryset.filter(shortfall__gt=0)
        if self.value() == "complete":
            return queryset.filter(completed_at__isnull=False)
        return queryset


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
    list_filter = ("trigger", OwedFilter)
    search_fields = ("copy__follower__email", "copy__lead__nickname", "=copy__id", "=entry__id")
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
    list_filter = ("instrument", RoundFilter)
    search_fields = ("instrument__name",)
    list_select_related = ("instrument", "entry")
    date_hierarchy = "slot"
