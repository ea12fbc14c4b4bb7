"""Copies admin: operators look at copies, their history and the lead events (the outbox), may
stop copies and re-dispatch what failed to mirror.

Lists filter and search by follower e-mail, lead nickname and id; no list or detail page makes a
query per row (the copies list reads its figures for the whole page at once). Nothing here
edits a copy or its money: the figures are ``copy_figures`` (the same numbers the
follower sees), "Stop selected copies" calls ``copy_stop`` (reason: operator), one durable
transaction per copy so one refusal does not undo the others, and "Re-dispatch" calls
``lead_events_redispatch``.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin, messages

from apps.copies.mirroring import lead_events_redispatch
from apps.copies.models import Copy, CopyEvent
from apps.copies.selectors import copy_figures_many
from apps.copies.services import copy_stop
from apps.core.exceptions import ApplicationError
from apps.core.money import fmt_usdt
from apps.positions.admin import ReadOnlyAdmin, ReadOnlyTabularInline
from apps.positions.models import LeadEvent


class CopyEventInline(ReadOnlyTabularInline):
    model = CopyEvent
    fields = ("created_at", "kind", "lead_event", "position", "amount", "reason", "explanation")
    readonly_fields = fields
    show_change_link = False
    ordering = ("-id",)

    def get_queryset(self, request):
        # the lead event and position of every row in the same query
        return super().get_queryset(request).select_related("lead_event", "position")


def _figure(name: str, description: str):
    def read(self, obj):
        figures = getattr(obj, "_figures", None)
        if figures is None:
            figures = copy_figures_many([obj])[obj.pk]
            obj._figures = figures
        value = getattr(figures, name)
        # figures are exact (uPnL carries many places): show USDT to 8 places, like the API
        return f"{fmt_usdt(value, 8)} USDT" if isinstance(value, Decimal) else value

    read.short_description = description
    return read


@admin.register(Copy)
class CopyAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "follower",
        "lead",
        "market",
        "status",
        "total_investment",
        "equity",
        "pnl",
        "started_at",
        "stopped_at",
        "stop_reason",
    )
    list_filter = ("status", "market", "stop_reason", "stop_loss_action")
    search_fields = ("follower__email", "lead__nickname", "account__code", "=id")
    list_select_related = ("follower", "lead", "account")
    date_hierarchy = "started_at"
    inlines = [CopyEventInline]
    actions = ["stop_copies"]
    fields = (
        "follower",
        "lead",
        "market",
        "status",
        "account",
        "total_investment",
        "equity",
        "pnl",
        "realized_pnl",
        "unrealized_pnl",
        "margin_in_use",
        "available",
        "profit_share_pending",
        "copy_ongoing_positions",
        "total_stop_loss",
        "stop_loss_action",
        "copying",
        "profit_share_ratio",
        "high_water_mark",
        "profit_share_paid",
        "start_after_event_id",
        "started_at",
        "stopped_at",
        "stop_reason",
    )
    readonly_fields = fields

    equity = _figure("equity", "equity")
    pnl = _figure("pnl", "PnL")
    realized_pnl = _figure("realized_pnl", "realized PnL (net)")
    unrealized_pnl = _figure("unrealized_pnl", "unrealized PnL")
    margin_in_use = _figure("margin_in_use", "margin in use")
    available = _figure("available", "available")
    profit_share_pending = _figure("profit_share_pending", "profit share pending")

    def get_changelist_instance(self, request):
        # Figures for the whole page in a few queries, not a query per row.
        cl = super().get_changelist_instance(request)
        rows = list(cl.result_list)
        figures = copy_figures_many(rows)
        for c in rows:
            c._figures = figures[c.pk]
        return cl

    def has_stop_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("copies.change_copy")

    @admin.action(description="Stop selected copies", permissions=["stop"])
    def stop_copies(self, request, queryset):
        for pk in (
            queryset.filter(status=Copy.Status.ACTIVE).order_by("id").values_list("pk", flat=True)
        ):
            try:
                copy_stop(copy=pk, reason=Copy.StopReason.OPERATOR)
            except ApplicationError as exc:
                self.message_user(request, f"Copy #{pk} not stopped: {exc.message}", messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Copy #{pk} stopped; its funds returned to the follower.",
                    messages.SUCCESS,
                )


def _redispatch(modeladmin, request, event_ids: list[int]) -> None:
    result = lead_events_redispatch(event_ids=event_ids)
    if result.dispatched:
        ids = ", ".join(f"#{pk}" for pk in result.dispatched)
        modeladmin.message_user(
            request,
            f"Re-dispatched lead event(s) {ids}: their failed copies will be mirrored again.",
            messages.SUCCESS,
        )
    for pk, why in result.refused:
        modeladmin.message_user(
            request, f"Lead event #{pk} not re-dispatched: {why}.", messages.ERROR
        )


def _can_redispatch(request) -> bool:
    return request.user.is_superuser or request.user.has_perm("copies.change_copy")


@admin.register(LeadEvent)
class LeadEventAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "account",
        "position",
        "instrument",
        "side",
        "leverage",
        "fill_price",
        "margin",
        "created_at",
        "status",
        "mirrored_at",
        "attempts",
        "failure",
        "dispatch_count",
    )
    list_filter = ("status", "kind", "instrument")
    search_fields = ("account__code", "account__lead_trader_futures__nickname", "=id", "failure")
    list_select_related = ("account", "position", "instrument")
    date_hierarchy = "created_at"
    actions = ["redispatch"]

    def has_redispatch_permission(self, request) -> bool:
        return _can_redispatch(request)

    @admin.action(
        description="Re-dispatch: mirror again to the copies it failed for",
        permissions=["redispatch"],
    )
    def redispatch(self, request, queryset):
        _redispatch(self, request, list(queryset.values_list("pk", flat=True)))


@admin.register(CopyEvent)
class CopyEventAdmin(ReadOnlyAdmin):
    """A follower's history; the "could not be mirrored" rows are what operators retry."""

    list_display = (
        "id",
        "copy",
        "kind",
        "lead_event",
        "position",
        "amount",
        "reason",
        "created_at",
    )
    list_filter = ("kind",)
    search_fields = (
        "copy__follower__email",
        "copy__lead__nickname",
        "=copy__id",
        "=lead_event__id",
        "reason",
    )
    list_select_related = ("copy", "lead_event", "position")
    date_hierarchy = "created_at"
    actions = ["redispatch"]

    def has_redispatch_permission(self, request) -> bool:
        return _can_redispatch(request)

    @admin.action(
        description="Re-dispatch the lead events of the selected failed rows",
        permissions=["redispatch"],
    )
    def redispatch(self, request, queryset):
        ids = (
            queryset.filter(kind=CopyEvent.Kind.FAILED, lead_event__isnull=False)
            .values_list("lead_event_id", flat=True)
            .distinct()
        )
        _redispatch(self, request, sorted(ids))
