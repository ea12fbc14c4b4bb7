"""Fees admin: profit-share settlements, read-only (they are written by the settlement service)."""

from __future__ import annotations

from django.contrib import admin

from apps.fees.models import ProfitShareSettlement
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
        "share",
        "entry",
        "created_at",
    )
    list_filter = ("trigger",)
    search_fields = ("copy__follower__email", "copy__lead__nickname", "=copy__id")
    list_select_related = ("copy", "entry")
    date_hierarchy = "created_at"
