"""The portal's trader pages' figures (home board, directory, profile): copiers, AUM and copiers'
PnL, loaded from every active copy of the leads shown. Moved from apps.traders.selectors so
that traders no longer imports copies; the directory and profile pages are to read
``apps.stats.selectors.trader_directory`` / ``trader_profile_get`` instead (issue 9), which
compute the same figures set-based, after which this module goes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from apps.copies.models import Copy
from apps.copies.selectors import copy_figures_many
from apps.core.exceptions import ApplicationError
from apps.core.money import ZERO
from apps.traders.models import LeadTrader
from apps.traders.selectors import trader_get

STAT_FIELDS = (
    "roi_7d",
    "roi_30d",
    "roi_90d",
    "pnl_30d_usdt",
    "win_rate_30d",
    "max_drawdown_30d",
)

# ordering key -> how to read it from a TraderFigures. Stats are None for now, so ordering by
# them keeps the tie-break (id) order; the keys are accepted so that clients can use them today.
ORDERING_FIELDS = ("id", "nickname", "copiers", "aum_usdt", "max_copiers", "profit_share_ratio")
ORDERABLE = (*ORDERING_FIELDS, *STAT_FIELDS)


@dataclass
class TraderFigures:
    lead: LeadTrader
    copiers: int = 0
    aum: Decimal = ZERO
    copiers_pnl: Decimal = ZERO
    stats: dict = field(default_factory=lambda: dict.fromkeys(STAT_FIELDS))

    @property
    def lead_days(self) -> int:
        end = self.lead.ended_at or timezone.now()
        return max(0, (end - self.lead.approved_at).days)


def _figures(leads: list[LeadTrader]) -> list[TraderFigures]:
    out = {lead.pk: TraderFigures(lead=lead) for lead in leads}
    copies = list(
        Copy.objects.filter(
            lead_id__in=list(out), market=Copy.Market.FUTURES, status=Copy.Status.ACTIVE
        )
    )
    figures = copy_figures_many(copies)
    for c in copies:
        row = out[c.lead_id]
        row.copiers += 1
        row.aum += figures[c.pk].equity
        row.copiers_pnl += figures[c.pk].pnl
    return [out[lead.pk] for lead in leads]


def ordering_parse(value: str | None) -> list[tuple[str, bool]]:
    """``"-aum_usdt,nickname"`` -> [("aum_usdt", True), ("nickname", False)]; unknown -> 400."""
    keys = []
    for part in (value or "").split(","):
        part = part.strip()
        if not part:
            continue
        name = part.lstrip("-")
        if name not in ORDERABLE or part.count("-") > 1:
            raise ApplicationError(
                f"Cannot order by {part!r}. Use one of: {', '.join(ORDERABLE)} "
                "(prefix with - for descending).",
                code="invalid_ordering",
                fields={"ordering": "Unknown field."},
            )
        keys.append((name, part.startswith("-")))
    return keys


def _sort_value(row: TraderFigures, name: str, descending: bool):
    if name in STAT_FIELDS:
        # Unknown (None) values go last in either direction, so never sort these reversed.
        value = row.stats.get(name) or ZERO
        return (row.stats.get(name) is None, -value if descending else value)
    return {
        "id": row.lead.pk,
        "nickname": row.lead.nickname.lower(),
        "copiers": row.copiers,
        "aum_usdt": row.aum,
        "max_copiers": row.lead.max_copiers,
        "profit_share_ratio": row.lead.profit_share_ratio,
    }[name]


def trader_list_with_figures(
    *, status: str | None = None, ordering: str | None = None
) -> list[TraderFigures]:
    """Active and ended lead traders with copiers, AUM and copiers' PnL, ordered by
    ``ordering`` (comma-separated keys of ORDERABLE, ``-`` for descending; ties by id)."""
    keys = ordering_parse(ordering)
    qs: QuerySet[LeadTrader] = LeadTrader.objects.filter(
        status__in=[LeadTrader.Status.ACTIVE, LeadTrader.Status.ENDED]
    ).order_by("id")
    if status:
        qs = qs.filter(status=status)
    rows = _figures(list(qs))
    for name, descending in reversed(keys):  # stable sorts: the last key first
        rows.sort(
            key=lambda r, n=name, d=descending: _sort_value(r, n, d),
            reverse=descending and name not in STAT_FIELDS,
        )
    return rows


def trader_get_with_figures(*, trader_id) -> TraderFigures:
    return _figures([trader_get(trader_id=trader_id)])[0]
