"""Operators' view of the market. A price changed here goes through price_set, so the tick is
recorded and the price hook (risk checks) fires exactly as for the API.

Price ticks and candles are big, append-only tables, read-only here. Their lists never scan them:
no COUNT(*) of the whole table (show_full_result_count off, a paginator that stops counting at
10,000) and a date hierarchy built from MIN/MAX (two index probes) and the calendar instead of
Django's SELECT DISTINCT over every row.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Max, Min
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.text import capfirst

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


class CappedCountPaginator(Paginator):
    """Counts at most CAP + 1 rows (SELECT COUNT(*) FROM (... LIMIT CAP + 1)); ``capped`` says
    the list has more than CAP, which templates/admin/market/pagination.html shows as such."""

    CAP = 10_000
    capped = False

    @cached_property
    def count(self) -> int:
        n = self.object_list[: self.CAP + 1].count()
        self.capped = n > self.CAP
        return n


def _month_starts(first: datetime.date, last: datetime.date):
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = (month + datetime.timedelta(days=32)).replace(day=1)


def date_hierarchy_cheap(cl) -> dict:
    """Django's date hierarchy (same links, same template) from the list's first and last date:
    a year, month or day is offered when it lies between them, without asking the database
    which days hold rows (Django's DISTINCT query reads every row of the month)."""
    field = cl.date_hierarchy
    year, month, day = (cl.params.get(f"{field}__{part}") for part in ("year", "month", "day"))

    def link(filters):
        return cl.get_query_string(filters, [f"{field}__"])

    y, m = f"{field}__year", f"{field}__month"
    if year and month and day:
        chosen = datetime.date(int(year), int(month), int(day))
        return {
            "show": True,
            "back": {
                "link": link({y: year, m: month}),
                "title": capfirst(formats.date_format(chosen, "YEAR_MONTH_FORMAT")),
            },
            "choices": [{"title": capfirst(formats.date_format(chosen, "MONTH_DAY_FORMAT"))}],
        }
    bounds = cl.queryset.aggregate(first=Min(field), last=Max(field))
    if bounds["first"] is None:
        return {"show": False}
    first, last = (timezone.localtime(bounds[k]).date() for k in ("first", "last"))
    days_level = bool(year and month) or (
        not year and (first.year, first.month) == (last.year, last.month)
    )
    if days_level:
        days = (first + datetime.timedelta(days=n) for n in range((last - first).days + 1))
        return {
            "show": True,
            "back": {"link": link({y: first.year}), "title": str(first.year)},
            "choices": [
                {
                    "link": link({y: d.year, m: d.month, f"{field}__day": d.day}),
                    "title": capfirst(formats.date_format(d, "MONTH_DAY_FORMAT")),
                }
                for d in days
            ],
        }
    if year or first.year == last.year:
        return {
            "show": True,
            "back": {"link": link({}), "title": "All dates"},
            "choices": [
                {
                    "link": link({y: d.year, m: d.month}),
                    "title": capfirst(formats.date_format(d, "YEAR_MONTH_FORMAT")),
                }
                for d in _month_starts(first, last)
            ],
        }
    return {
        "show": True,
        "back": None,
        "choices": [
            {"link": link({y: str(n)}), "title": str(n)} for n in range(first.year, last.year + 1)
        ],
    }


class BigReadOnlyAdmin(admin.ModelAdmin):
    """A read-only list of a big append-only table that never scans it (see the module doc)."""

    change_list_template = "admin/market/big_change_list.html"
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 100

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context and context["cl"].date_hierarchy:
            context["cheap_date_hierarchy"] = date_hierarchy_cheap(context["cl"])
        return response

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
