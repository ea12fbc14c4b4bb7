"""The public pages about lead traders: the home page board, the directory and the profile
(with the copy simulator, "what would I have made").

Pages only read selectors (apps.stats.selectors: the same as ``GET traders/`` and
``GET traders/{id}/``) and the simulator (as ``GET traders/{id}/simulate/``), and format with
the money template filters: no money math here.

- Directory ``/traders/``: ``?ordering=`` (the API's names; the page puts active traders
  first), ``market`` (futures | spot), ``room=1`` (only those a copy can start with now),
  ``q`` (part of a nickname), ``period`` (7d | 30d | 90d | all: the ROI and PnL columns),
  ``page``. Bad values are named in a callout and the defaults used instead.
- Profile ``/traders/<id>/``: ``market``, ``period`` (the stats and charts; default 30d),
  ``history`` (the page of position history) and the simulator's ``investment``, ``days``,
  ``stop_loss``, ``stop_loss_action``. Every part works as a plain GET without JavaScript;
  with htmx the period switch, the history pager and the simulator swap only their part
  (chosen by the request's HX-Target).
- The simulator is throttled per IP like its API (scope ``simulate``).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from apps.core.exceptions import ApplicationError, NotFound
from apps.core.forms import service_error
from apps.core.throttling import SimulateThrottle
from apps.market.selectors import price_board
from apps.portal.forms.traders import SIMULATION_FIELDS, SimulationForm
from apps.positions.models import Position
from apps.stats import selectors
from apps.stats.api import SIMULATION_NOTE, simulation_out
from apps.stats.models import Period
from apps.traders.models import LeadTrader
from apps.traders.selectors import trader_get

DIRECTORY_PAGE_SIZE = 20
HISTORY_PAGE_SIZE = 10
BOARD_SIZE = 6
DEFAULT_PERIOD = Period.D30
PERIOD_LABELS = {
    Period.D7: "7 days",
    Period.D30: "30 days",
    Period.D90: "90 days",
    "all": "All time",
}
MARKET_LABELS = {"futures": "Futures", "spot": "Spot"}

# Directory columns that sort: (label, the API ordering key or a period-dependent marker,
# the direction a first click sorts in)
SORTS = {
    "roi": ("ROI", True),
    "pnl": ("PnL", True),
    "win_rate_30d": ("Win rate", True),
    "max_drawdown_30d": ("Max drawdown", False),
    "aum_usdt": ("AUM", True),
    "copiers": ("Copiers", True),
}


def _copy_cta(request, lead: LeadTrader, row: selectors.TraderRow) -> dict:
    """What the profile offers instead of a bare Copy button: copy (the wizard), "this is you"
    (a lead on their own profile), full, or ended, each with words a person understands."""
    if not lead.is_active:
        return {"state": "ended"}
    if request.user.is_authenticated and request.user.pk == lead.user_id:
        return {"state": "self"}
    if not row.has_room:
        return {"state": "full"}
    query = {"trader": lead.pk} | _market_param(row.market)
    return {"state": "copy", "url": f"{reverse('copy_new')}?{urlencode(query)}"}


def _market_param(market: str) -> dict:
    return {} if market == "futures" else {"market": market}


# --- home ----------------------------------------------------------------------------------------
def _board_rows() -> list[dict]:
    """The home page's board: the active leads with the best 30-day ROI. Flat rows, the
    board's contract (tests/accounts/test_pages.py renders it directly)."""
    rows = selectors.trader_directory(status=LeadTrader.Status.ACTIVE, ordering="-roi_30d,id")
    return [
        {
            "id": row.lead.pk,
            "nickname": row.lead.nickname,
            "status": row.lead.status,
            "profit_share_ratio": row.lead.profit_share_ratio,
            "copiers": row.copiers,
            "max_copiers": row.lead.max_copiers,
            "has_room": row.has_room,
            "aum": row.aum,
            "roi_30d": row.stats["roi_30d"],
        }
        for row in rows[:BOARD_SIZE]
    ]


@require_GET
def home(request):
    return render(request, "core/home.html", {"prices": price_board(), "traders": _board_rows()})


# --- directory -----------------------------------------------------------------------------------
def _directory_params(data) -> tuple[dict, list[str]]:
    """The directory's filters, each checked by the selectors' own parsers; a bad one is
    reported and replaced by its default."""
    problems: list[str] = []

    def parsed(parse, raw, default):
        try:
            value = parse(raw)
        except ApplicationError as exc:
            problems.append(exc.message)
            return default
        return default if value is None else value

    period = parsed(
        lambda v: selectors.period_parse(v, default=DEFAULT_PERIOD),
        data.get("period"),
        DEFAULT_PERIOD,
    )
    params = {
        "q": parsed(selectors.search_parse, data.get("q"), ""),
        "market": parsed(selectors.market_parse, data.get("market"), "futures"),
        "room": data.get("room") in ("1", "true", "on"),
        "period": period,
    }
    ordering = (data.get("ordering") or "").strip() or f"-{selectors.ROI_KEY[period]}"
    # a ROI or PnL ordering follows the period shown in the columns
    name = ordering.removeprefix("-")
    for keys in (selectors.ROI_KEY, selectors.PNL_KEY):
        if name in keys.values():
            ordering = ordering.replace(name, keys[period])
    try:
        selectors.ordering_parse(ordering)
    except ApplicationError as exc:
        problems.append(exc.message)
        ordering = f"-{selectors.ROI_KEY[period]}"
    params["ordering"] = ordering
    params["page"] = data.get("page") or "1"
    return params, problems


def _query(params: dict, **changes) -> str:
    """The directory's query string with ``changes`` (defaults left out, page reset)."""
    merged = {**params, "page": "1", **changes}
    out = {
        "q": merged["q"],
        "market": "" if merged["market"] == "futures" else merged["market"],
        "room": "1" if merged["room"] else "",
        "period": "" if merged["period"] == DEFAULT_PERIOD else merged["period"],
        "ordering": merged["ordering"],
        "page": "" if str(merged["page"]) == "1" else merged["page"],
    }
    return urlencode({k: v for k, v in out.items() if v})


def _sort_headers(params: dict) -> list[dict]:
    """Each sortable column: its link (the other filters kept) and aria-sort."""
    period = params["period"]
    current = params["ordering"]
    heads = []
    for column, (label, descending_first) in SORTS.items():
        key = {"roi": selectors.ROI_KEY[period], "pnl": selectors.PNL_KEY[period]}.get(
            column, column
        )
        if current == key:
            state, next_ordering = "ascending", f"-{key}"
        elif current == f"-{key}":
            state, next_ordering = "descending", key
        else:
            state, next_ordering = "none", f"-{key}" if descending_first else key
        heads.append(
            {
                "column": column,
                "label": label,
                "state": state,
                "url": f"?{_query(params, ordering=next_ordering)}",
            }
        )
    return heads


def _sort_options(params: dict) -> list[dict]:
    """The same orders as the column headers, for the filter form (and phones, where the
    table's headers are hidden)."""
    roi, pnl = selectors.ROI_KEY[params["period"]], selectors.PNL_KEY[params["period"]]
    options = [
        (f"-{roi}", "ROI, highest first"),
        (roi, "ROI, lowest first"),
        (f"-{pnl}", "PnL, highest first"),
        ("-win_rate_30d", "Win rate, highest first"),
        ("max_drawdown_30d", "Max drawdown, smallest first"),
        ("-aum_usdt", "AUM, largest first"),
        ("-copiers", "Copiers, most first"),
    ]
    if params["ordering"] not in dict(options):
        options.append((params["ordering"], "As chosen"))
    return [
        {"value": v, "label": label, "selected": v == params["ordering"]} for v, label in options
    ]


def _directory_context(request) -> dict:
    params, problems = _directory_params(request.GET)
    rows = selectors.trader_directory(
        ordering=f"status,{params['ordering']}",  # active traders first
        market=params["market"],
        has_room=True if params["room"] else None,
        search=params["q"] or None,
    )
    page = Paginator(rows, DIRECTORY_PAGE_SIZE).get_page(params["page"])
    period = params["period"]
    traders = [
        {
            "row": row,
            "lead": row.lead,
            "roi": row.stats[selectors.ROI_KEY[period]],
            "pnl": row.stats[selectors.PNL_KEY[period]],
            "win_rate": row.stats["win_rate_30d"],
            "max_drawdown": row.stats["max_drawdown_30d"],
            "url": reverse("trader_profile", args=[row.lead.pk])
            + (f"?market={row.market}" if row.market != "futures" else ""),
            "copy_url": f"{reverse('copy_new')}?"
            + urlencode({"trader": row.lead.pk} | _market_param(row.market)),
        }
        for row in page.object_list
    ]
    as_of = max((t["row"].as_of for t in traders if t["row"].as_of), default=None)
    return {
        "params": params,
        "problems": problems,
        "page_obj": page,
        "traders": traders,
        "heads": _sort_headers(params),
        "sort_options": _sort_options(params),
        "periods": PERIOD_LABELS,
        "period_label": PERIOD_LABELS[period],
        "market_label": MARKET_LABELS[params["market"]],
        "as_of": as_of,
        "market_tabs": [
            {"key": m, "label": label, "query": _query(params, market=m)}
            for m, label in MARKET_LABELS.items()
        ],
        "previous_query": _query(params, page=page.previous_page_number())
        if page.has_previous()
        else "",
        "next_query": _query(params, page=page.next_page_number()) if page.has_next() else "",
    }


@require_GET
def trader_list(request):
    """Every lead trader, active first; ended ones stay listed with their history."""
    template = "traders/list.html"
    if request.htmx and request.htmx.target == "directory":
        template = "traders/list.html#directory"
    return render(request, template, _directory_context(request))


# --- profile -------------------------------------------------------------------------------------
def _simulation(request, lead: LeadTrader) -> dict:
    """The simulator's form and, when it was submitted, its result (or its refusals next to
    their fields)."""
    if "investment" not in request.GET:
        return {"form": SimulationForm(), "result": None}
    form = SimulationForm(request.GET)
    if not form.is_valid():
        return {"form": form, "result": None}
    throttle = SimulateThrottle()
    if not throttle.allow_request(request, None):
        form.add_error(
            None,
            f"Too many simulations from your address just now. Please try again in "
            f"{throttle.wait()} seconds.",
        )
        return {"form": form, "result": None, "throttled": True}
    data = form.cleaned_data
    try:
        sim = selectors.trader_simulate(
            trader_id=lead.pk,
            investment=data["investment"],
            days=data["days"],
            stop_loss=data["stop_loss"] or None,
            stop_loss_action=data["stop_loss_action"] or None,
        )
    except ApplicationError as exc:
        service_error(form, exc, field_map=SIMULATION_FIELDS)
        return {"form": form, "result": None}
    result = simulation_out(sim)
    query = {"investment_usdt": sim.investment, "days": sim.days}
    if sim.stop_loss is not None:
        query |= {"stop_loss_usdt": sim.stop_loss, "stop_loss_action": sim.stop_loss_action}
    return {
        "form": form,
        "result": result,
        "sim": sim,
        "series_url": f"{reverse('api:trader-simulate', args=[lead.pk])}?{urlencode(query)}",
        "lead_series_url": f"{reverse('api:trader-detail', args=[lead.pk])}?"
        + urlencode({"period": f"{sim.days}d"}),
        "note": SIMULATION_NOTE,
    }


@require_GET
def trader_profile(request, trader_id: int):
    """The profile page, or the part an htmx request targets (the simulator, the stats of a
    period, a page of position history): each step below adds what the next part needs."""
    target = request.htmx.target if request.htmx else None
    if target == "simulation":  # the simulator's part needs the lead only
        lead = _lead_or_404(trader_id)
        return render(
            request,
            "traders/profile.html#simulation",
            {"lead": lead, "simulation": _simulation(request, lead)},
        )
    profile = _profile_or_404(
        trader_id,
        period=request.GET.get("period") or DEFAULT_PERIOD,
        market=request.GET.get("market") or "futures",
    )
    query = _profile_query(profile)
    context = _profile_stats_context(profile, query)
    if target == "profile-stats":
        return render(request, "traders/profile.html#profile-stats", context)
    context |= _profile_history_context(request, profile, query)
    if target == "position-history":
        return render(request, "traders/profile.html#position-history", context)
    context |= _profile_positions_context(request, profile)
    return render(request, "traders/profile.html", context)


def _lead_or_404(trader_id: int):
    try:
        return trader_get(trader_id=trader_id)
    except NotFound:
        raise Http404("No such lead trader.") from None


def _profile_or_404(trader_id: int, *, period: str, market: str):
    try:
        return selectors.trader_profile_get(trader_id=trader_id, period=period, market=market)
    except NotFound:
        raise Http404("No such lead trader.") from None
    except ApplicationError:  # an unknown period or market: the defaults, as a link would
        try:
            return selectors.trader_profile_get(trader_id=trader_id, period=DEFAULT_PERIOD)
        except NotFound:
            raise Http404("No such lead trader.") from None


def _profile_query(profile):
    """A query string that keeps the profile's market and period, with ``changes``."""
    keep = {
        "market": profile.market if profile.market != "futures" else "",
        "period": profile.period,
    }

    def query(**changes) -> str:
        return urlencode({k: v for k, v in (keep | changes).items() if v})

    return query


def _profile_stats_context(profile, query) -> dict:
    lead, market, period = profile.lead, profile.market, profile.period
    return {
        "lead": lead,
        "profile": profile,
        "market": market,
        "period": period,
        "row": profile.row,
        "stats": profile.stats.get(period),
        "tracking": profile.tracking,
        "periods": PERIOD_LABELS,
        "period_label": PERIOD_LABELS[period],
        "markets": {m: MARKET_LABELS[m] for m in profile.markets},
        "series_url": f"{reverse('api:trader-detail', args=[lead.pk])}?"
        + urlencode({"period": period} | ({"market": market} if market != "futures" else {})),
        "period_tabs": [
            {"key": p, "label": label, "query": query(period=p)}
            for p, label in PERIOD_LABELS.items()
        ],
        "has_tracking": bool(
            profile.tracking
            and (profile.tracking.tracked_copies or profile.tracking.mirror_outcomes)
        ),
    }


def _profile_history_context(request, profile, query) -> dict:
    history = Paginator(
        selectors.trader_positions(
            lead=profile.lead, market=profile.market, status=Position.Status.CLOSED
        ),
        HISTORY_PAGE_SIZE,
    ).get_page(request.GET.get("history") or 1)
    return {
        "history": history,
        "history_rows": selectors.position_rows(history.object_list),
        "history_newer": query(history=history.previous_page_number())
        if history.has_previous()
        else "",
        "history_older": query(history=history.next_page_number()) if history.has_next() else "",
    }


def _profile_positions_context(request, profile) -> dict:
    lead, market = profile.lead, profile.market
    instrument = selectors.trader_main_instrument(lead=lead, market=market)
    return {
        "positions": selectors.position_rows(
            selectors.trader_positions(lead=lead, market=market, status=Position.Status.OPEN)
        ),
        "instrument": instrument,
        "candles_url": (
            reverse("api:price-candles", args=[instrument]) + "?interval=1h&limit=168"
            if instrument
            else None
        ),
        "cta": _copy_cta(request, lead, profile.row),
        "simulation": _simulation(request, lead) if market == "futures" else None,
    }
