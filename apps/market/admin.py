"""Operators' view of the market. A price changed here goes through price_set, so the tick is
recorded and the price hook (risk checks) fires exactly as for the API.

An instrument's identity and its contract value never change once it exists: open positions
are valued with them, so a new contract value would move every holder's PnL and margin without
a ledger entry. Lot size, minimum size, leverage cap, fees and the maintenance rate remain
editable (they apply to what is traded and checked from then on); retire one with "active".

Price ticks and candles are big, append-only tables, read-only here. Their lists never scan them
(apps/core/admin_lists.py): no COUNT(*) of the whole table (show_full_result_count off, a
paginator that stops counting at 10,000) and a date hierarchy built from MIN/MAX (two index
probes) and the calendar instead of Django's SELECT DISTINCT over every row.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from apps.core.admin_lists import (
    BigListMixin,
    CappedCountPaginator,  # noqa: F401 (tests patch it from here)
)
from apps.core.exceptions import ApplicationError

from .models import Candle, Instrument, Price, PriceTick
from .services import funding_rate_validate, price_set, price_validate


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "kind",
        "base_asset",
        "contract_value",
        "lot_size",
        "min_size",
        "max_leverage",
        "mmr",
        "taker_fee",
        "tick_size",
        "active",
    )
    list_filter = ("kind", "active")
    search_fields = ("name", "base_asset")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("name", "kind", "base_asset", "quote_asset", "contract_value")

    def has_delete_permission(self, request, obj=None):
        # Positions and fills point at instruments: retire one with "active", never delete it.
        return False


class PriceAdminForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = ("instrument", "price", "funding_rate")

    def clean(self):
        data = super().clean()
        # The service's own validation, so the form and the API refuse the same things.
        for field, validate in (("price", price_validate), ("funding_rate", funding_rate_validate)):
            if data.get(field) is not None:
                try:
                    data[field] = validate(data[field], field=field)
                except ApplicationError as exc:
                    self.add_error(field, exc.fields.get(field, exc.message))
        instrument = data.get("instrument")
        if (
            instrument is not None
            and not instrument.is_perpetual
            and "funding_rate" in self.changed_data
        ):
            self.add_error("funding_rate", "Only perpetual swaps have a funding rate.")
        return data


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    form = PriceAdminForm
    list_display = ("instrument", "price", "funding_rate", "source", "updated_at")
    list_filter = ("instrument__kind", "source")
    search_fields = ("instrument__name",)
    list_select_related = ("instrument",)
    readonly_fields = ("source", "updated_at")

    def has_delete_permission(self, request, obj=None):
        # Without a price nothing can be valued or traded: change it, never delete it.
        return False

    def get_readonly_fields(self, request, obj=None):
        # The instrument of an existing price row never changes: add a row for another one.
        return (*self.readonly_fields, "instrument") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        # Never obj.save(): the service records the tick and fires the price hook.
        funding = obj.funding_rate if "funding_rate" in form.changed_data else None
        saved = price_set(
            instrument=obj.instrument, price=obj.price, source="operator", funding_rate=funding
        )
        obj.pk, obj.updated_at, obj.source = saved.pk, saved.updated_at, saved.source


class BigReadOnlyAdmin(BigListMixin, admin.ModelAdmin):
    """A read-only list of a big append-only table that never scans it (see the module doc)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PriceTick)
class PriceTickAdmin(BigReadOnlyAdmin):
    list_display = ("created_at", "instrument", "price", "source")
    list_filter = ("instrument", "source")
    date_hierarchy = "created_at"
    list_select_related = ("instrument",)


@admin.register(Candle)
class CandleAdmin(BigReadOnlyAdmin):
    """1-minute candles; ticks older than MARKET_TICK_RETENTION_HOURS live on only here."""

    list_display = ("start", "instrument", "interval", "open", "high", "low", "close", "ticks")
    list_filter = ("instrument", "sealed")
    date_hierarchy = "start"
    list_select_related = ("instrument",)
