"""Positions admin: read-only views of positions and fills. (Lead events, the outbox, are in the
copies admin, beside the re-dispatch action that only the copies app can perform.)

Nothing here moves money or changes a position: trades happen only through the services.
Lists filter by who holds the position (a lead trader or a follower's copy) and search by the
holder's e-mail; no list makes a query per row.
"""

from __future__ import annotations

from django.contrib import admin

from apps.positions.models import Fill, Position


class ReadOnlyAdmin(admin.ModelAdmin):
    """List and look, never add, change or delete (used by the trading apps' admins)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyTabularInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class HolderFilter(admin.SimpleListFilter):
    """Lead traders' own positions vs. followers' (mirrored) ones, by the account's kind."""

    title = "held by"
    parameter_name = "holder"
    field = "account__kind"

    def lookups(self, request, model_admin):
        return [("lead", "Lead trader"), ("follower", "Follower (copy)")]

    def queryset(self, request, queryset):
        kinds = {"lead": ["lead_futures", "lead_spot"], "follower": ["copy"]}.get(self.value())
        return queryset.filter(**{f"{self.field}__in": kinds}) if kinds else queryset


class FillHolderFilter(HolderFilter):
    field = "position__account__kind"


class FillInline(ReadOnlyTabularInline):
    model = Fill
    fields = ("action", "quantity", "price", "reference_price", "fee", "realized_pnl", "created_at")
    readonly_fields = fields


@admin.register(Position)
class PositionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "account",
        "instrument",
        "side",
        "margin_mode",
        "leverage",
        "size",
        "entry_price",
        "margin",
        "realized_pnl",
        "fees",
        "status",
        "close_reason",
        "opened_at",
        "closed_at",
    )
    list_filter = (
        "status",
        HolderFilter,
        "margin_mode",
        "instrument",
        "side",
        "close_reason",
        "handed_over",
    )
    search_fields = ("account__code", "account__owner__email", "=id", "=lead_position__id")
    list_select_related = ("account", "instrument")
    date_hierarchy = "opened_at"
    inlines = [FillInline]


@admin.register(Fill)
class FillAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "position",
        "lead_event",
        "action",
        "quantity",
        "price",
        "reference_price",
        "fee",
        "realized_pnl",
        "created_at",
    )
    list_filter = ("action", FillHolderFilter, "position__instrument")
    search_fields = (
        "position__account__code",
        "position__account__owner__email",
        "=position__id",
        "=lead_event__id",
    )
    list_select_related = ("position", "lead_event")
    date_hierarchy = "created_at"
