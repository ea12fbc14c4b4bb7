"""Admin lists of big, append-only tables that never scan them (market ticks and candles, ledger
entries and postings).

- ``CappedCountPaginator``: no COUNT(*) of the whole table, at most CAP + 1 rows counted;
  templates/admin/pagination.html says "More than 10,000 ..." instead of a count it never made.
- ``date_hierarchy_cheap``: Django's date hierarchy links from the list's MIN and MAX date (two
  index probes) and the calendar, instead of Django's SELECT DISTINCT over every row.
- ``BigListMixin``: both, for a ModelAdmin (template templates/admin/big_change_list.html).

Imports no app (core is the bottom layer).
"""

from __future__ import annotations

import datetime

from django.core.paginator import Paginator
from django.db.models import Max, Min
from django.utils import formats, timezone
from django.utils.functional import cached_property
from django.utils.text import capfirst


class CappedCountPaginator(Paginator):
    """Counts at most CAP + 1 rows (SELECT COUNT(*) FROM (... LIMIT CAP + 1)); ``capped`` says
    the list has more than CAP, which templates/admin/pagination.html shows as such."""

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


class BigListMixin:
    """For a ModelAdmin of a big table: capped count, no full count, cheap date hierarchy."""

    change_list_template = "admin/big_change_list.html"
    paginator = CappedCountPaginator
    show_full_result_count = False
    list_per_page = 100

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None)
        if context and "cl" in context and context["cl"].date_hierarchy:
            context["cheap_date_hierarchy"] = date_hierarchy_cheap(context["cl"])
        return response
