"""Stats admin: operators look at the daily snapshots and the computed stats (read only: they
are derived from the ledger and positions; ``manage.py stats_backfill`` rewrites past days).
The copy snapshot list is long (one row per copy and day): no full count, a date filter."""

from __future__ import annotations

from django.contrib import admin

from apps.positions.admin import ReadOnlyAdmin
from apps.stats.models import CopySnapshot, LeadSnapshot, TraderStats

MONEY = (
    "equity",
    "transfers_in",
    "transfers_out",
    "realized_pnl",
    "unrealized_pnl",
    "fees",
    "funding",
    "profit_share",
)


@admin.register(LeadSnapshot)
class LeadSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("date", "lead", "market", *MONEY, "open_positions", "copiers", "aum")
    list_filter = ("market", "date")
    list_select_related = ("lead",)
    search_fields = ("lead__nickname",)
    date_hierarchy = "date"
    ordering = ("-date", "lead_id")


@admin.register(CopySnapshot)
class CopySnapshotAdmin(ReadOnlyAdmin):
    list_display = ("date", "copy", "lead", *MONEY, "open_positions")
    list_filter = ("date",)
    list_select_related = ("copy", "lead")
    search_fields = ("=copy__id", "lead__nickname")
    date_hierarchy = "date"
    ordering = ("-date", "copy_id")
    show_full_result_count = False
    raw_id_fields = ("copy", "lead")


@admin.register(TraderStats)
class TraderStatsAdmin(ReadOnlyAdmin):
    list_display = (
        "lead",
        "period",
        "as_of",
        "days",
        "roi",
        "pnl",
        "win_rate",
        "max_drawdown",
        "sharpe",
        "trades_per_week",
        "copiers_median_roi",
        "missed_share",
    )
    list_filter = ("period",)
    list_select_related = ("lead",)
    search_fields = ("lead__nickname",)
    ordering = ("lead_id", "period")
