"""Public REST reads of lead traders: the directory (``traders/``), a profile
(``traders/{id}/``) and the copy simulator (``traders/{id}/simulate/``, "what would I have
made": apps.stats.simulator, docs/decisions/0011-copy-simulator.md). Views only parse input and
call apps.stats.selectors / the simulator; refusals are their ApplicationErrors rendered as
``{detail, code, fields}``. Ratios are fractions ("0.0125" = 1.25%); unknown figures are null,
never 0. The lead's sub-positions (``traders/{id}/positions/``) are a record read and stay in
apps.traders.api. The simulator is throttled per IP (scope ``simulate``): a cold replay of 90
days costs up to a second of a server process.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import PAGE_PARAMETERS, ErrorSerializer, MoneyField, Pagination, paginated
from apps.core.throttling import SimulateThrottle
from apps.stats import selectors, simulator
from apps.stats.models import Market, Period, TraderStats
from apps.traders.models import LeadTrader

READ_ERRORS = {400: ErrorSerializer, 404: ErrorSerializer}

STATS_NOTE = (
    "Performance stats are computed each night (00:05 UTC) from daily snapshots, over the "
    "periods ending with the last full UTC day (`stats_as_of`): time-weighted ROI with "
    "transfers excluded, PnL (the change in equity less transfers), win rate (closed "
    "sub-positions with net PnL > 0), max drawdown of the return index, Sharpe of daily "
    "returns (x sqrt(365)). A lead without a full day yet has `null` stats (unknown, not 0). "
    "Copiers, AUM, `has_room` and the copiers' PnL are live."
)


def _ratio(help_text: str) -> MoneyField:
    return MoneyField(allow_null=True, help_text=help_text + " A fraction; null when unknown.")


class TraderSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    nickname = serializers.CharField()
    status = serializers.CharField(help_text="active or ended.")
    profit_share_ratio = MoneyField(help_text="Share of copiers' net realized profit, 0 to 0.30.")
    market = serializers.ChoiceField(
        choices=Market.choices, help_text="The market of the stats, copiers and AUM."
    )
    copiers = serializers.IntegerField(
        help_text="Active copies now (futures; with market=spot, spot copies)."
    )
    max_copiers = serializers.IntegerField()
    has_room = serializers.BooleanField(
        help_text="A copy can start now: the lead is active and not full."
    )
    aum_usdt = MoneyField(help_text="Sum of those copies' equity now.")
    roi_7d = _ratio("Time-weighted ROI over the last 7 days.")
    roi_30d = _ratio("Time-weighted ROI over the last 30 days.")
    roi_90d = _ratio("Time-weighted ROI over the last 90 days.")
    roi_all = _ratio("Time-weighted ROI since the first snapshot (all time).")
    pnl_7d_usdt = MoneyField(
        allow_null=True, help_text="Equity change less transfers over 7 days; null if unknown."
    )
    pnl_30d_usdt = MoneyField(
        allow_null=True, help_text="Equity change less transfers over 30 days; null if unknown."
    )
    pnl_90d_usdt = MoneyField(
        allow_null=True, help_text="Equity change less transfers over 90 days; null if unknown."
    )
    pnl_all_usdt = MoneyField(
        allow_null=True, help_text="Equity change less transfers, all time; null if unknown."
    )
    win_rate_30d = _ratio("Closed sub-positions with positive net PnL / closed, 30 days.")
    max_drawdown_30d = _ratio("Largest fall of the return index from its peak, 30 days.")
    stats_as_of = serializers.DateField(
        allow_null=True, help_text="The last UTC day the stats include; null: none yet."
    )


class TraderDailySerializer(serializers.Serializer):
    date = serializers.DateField()
    equity_usdt = MoneyField(
        help_text="The lead account's equity at the day's end (futures; spot: cash + holdings "
        "at the day's last price)."
    )
    pnl_usdt = MoneyField(help_text="The day's PnL: equity change less transfers.")
    roi = _ratio("Time-weighted ROI from the period's start to this day's end.")
    copiers = serializers.IntegerField(help_text="Active copies at the day's end.")
    aum_usdt = MoneyField(help_text="Their equity at the day's end.")


class TraderPeriodStatsSerializer(serializers.Serializer):
    period = serializers.ChoiceField(choices=Period.choices)
    as_of = serializers.DateField(help_text="The last UTC day included.")
    days = serializers.IntegerField(help_text="Days of the period the lead existed.")
    roi = _ratio("Time-weighted ROI, transfers excluded.")
    pnl_usdt = MoneyField(allow_null=True, help_text="Equity change less transfers.")
    max_drawdown = _ratio("Largest fall of the return index from its peak.")
    sharpe = MoneyField(
        allow_null=True,
        help_text="Mean / standard deviation of daily returns x sqrt(365); null with fewer "
        "than 2 days or no variation.",
    )
    win_rate = _ratio("Closed sub-positions with positive net PnL / closed.")
    closed_positions = serializers.IntegerField()
    winning_positions = serializers.IntegerField()
    opened_positions = serializers.IntegerField()
    trades_per_week = MoneyField(allow_null=True, help_text="Sub-positions opened per 7 days.")
    avg_holding_seconds = serializers.IntegerField(
        allow_null=True, help_text="Average holding time of the closed sub-positions."
    )
    copiers_peak = serializers.IntegerField(help_text="Most copiers at a day's end.")


class MissedReasonSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="missed, sync_failed or failed.")
    reason = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField()


class TraderTrackingSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    days = serializers.IntegerField(help_text="30.")
    lead_roi = _ratio("The lead's time-weighted ROI over the 30 days.")
    tracked_copies = serializers.IntegerField(help_text="Copies with a return in the 30 days.")
    copiers_median_roi = _ratio("Median of the copies' time-weighted ROI over the days each "
                                "copied.")  # fmt: skip
    tracking_gap_median = _ratio("Median of (a copy's ROI - the lead's ROI over the same days).")
    mirror_outcomes = serializers.IntegerField(
        help_text="Lead events x copies: copied, missed, sync failed, could not be mirrored."
    )
    missed = serializers.IntegerField(help_text="Outcomes that were not copied.")
    missed_share = _ratio("missed / mirror_outcomes.")
    missed_by_reason = MissedReasonSerializer(many=True)


class TraderDetailSerializer(TraderSerializer):
    bio = serializers.CharField(allow_blank=True)
    sharpe_90d = MoneyField(allow_null=True, help_text="Sharpe over 90 days; null if unknown.")
    copiers_pnl_usdt = MoneyField(
        help_text="Active copies' live PnL + stopped copies' final PnL (futures)."
    )
    lead_days = serializers.IntegerField(help_text="Days since approval (until the end, if ended).")
    approved_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    periods = TraderPeriodStatsSerializer(
        many=True, help_text="7d, 30d, 90d, all: the periods with stats (none before a full day)."
    )
    tracking_30d = TraderTrackingSerializer(
        allow_null=True, help_text="How closely copiers tracked the lead; null before stats."
    )
    markets = serializers.ListField(
        child=serializers.CharField(),  # futures, spot (one enum name per choice set)
        help_text="The markets the lead trades (futures always; spot when its lead spot "
        "account holds cash or has traded).",
    )
    period = serializers.ChoiceField(choices=Period.choices, help_text="The period of `daily`.")
    daily = TraderDailySerializer(many=True, help_text="One entry per UTC day of `period`.")


def _trader_out(row: selectors.TraderRow) -> dict:
    lead = row.lead
    return {
        "id": lead.pk,
        "nickname": lead.nickname,
        "status": lead.status,
        "market": row.market,
        "profit_share_ratio": lead.profit_share_ratio,
        "copiers": row.copiers,
        "max_copiers": lead.max_copiers,
        "has_room": row.has_room,
        "aum_usdt": row.aum,
        **row.stats,
        "stats_as_of": row.as_of,
    }


def _period_out(s: TraderStats) -> dict:
    return {
        "period": s.period,
        "as_of": s.as_of,
        "days": s.days,
        "roi": s.roi,
        "pnl_usdt": s.pnl,
        "max_drawdown": s.max_drawdown,
        "sharpe": s.sharpe,
        "win_rate": s.win_rate,
        "closed_positions": s.closed,
        "winning_positions": s.wins,
        "opened_positions": s.opens,
        "trades_per_week": s.trades_per_week,
        "avg_holding_seconds": s.avg_holding_seconds,
        "copiers_peak": s.copiers_peak,
    }


def _tracking_out(s: TraderStats | None) -> dict | None:
    if s is None:
        return None
    return {
        "as_of": s.as_of,
        "days": 30,
        "lead_roi": s.roi,
        "tracked_copies": s.tracked_copies,
        "copiers_median_roi": s.copiers_median_roi,
        "tracking_gap_median": s.tracking_gap_median,
        "mirror_outcomes": s.mirror_outcomes,
        "missed": s.missed,
        "missed_share": s.missed_share,
        "missed_by_reason": s.missed_reasons,
    }


def _detail_out(p: selectors.TraderProfile) -> dict:
    lead = p.lead
    order = list(Period.values)
    ninety = p.stats.get(Period.D90)
    return _trader_out(p.row) | {
        "bio": lead.bio,
        "sharpe_90d": ninety.sharpe if ninety else None,
        "copiers_pnl_usdt": p.copiers_pnl,
        "lead_days": p.row.lead_days,
        "approved_at": lead.approved_at,
        "ended_at": lead.ended_at,
        "periods": [
            _period_out(s) for s in sorted(p.stats.values(), key=lambda s: order.index(s.period))
        ],
        "tracking_30d": _tracking_out(p.tracking),
        "markets": list(p.markets),
        "period": p.period,
        "daily": [
            {
                "date": d.date,
                "equity_usdt": d.equity,
                "pnl_usdt": d.pnl,
                "roi": d.roi,
                "copiers": d.copiers,
                "aum_usdt": d.aum,
            }
            for d in p.daily
        ],
    }


class TraderListApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []  # public: a stale session must not turn this into a 403

    @extend_schema(
        operation_id="trader_list",
        tags=["traders"],
        summary="Lead traders (public directory)",
        description=(
            "Active and ended lead traders with their stats and live figures. `ordering` takes "
            f"a comma list of {', '.join(selectors.ORDERABLE)} (prefix `-` for descending; ties "
            "by id; unknown stats last either way); anything else is a 400. " + STATS_NOTE
        ),
        parameters=[
            OpenApiParameter("ordering", str, required=False),
            OpenApiParameter("status", str, enum=list(LeadTrader.Status.values), required=False),
            OpenApiParameter(
                "market",
                str,
                enum=list(selectors.MARKETS),
                required=False,
                description="futures (default): every lead, with its futures stats, copiers "
                "and AUM; spot: the leads that trade spot (lead spot account with cash or a "
                "trade), with the stats of their lead spot account (cash + holdings at price) "
                "and their spot copiers, AUM and room.",
            ),
            OpenApiParameter(
                "has_room",
                str,
                enum=["true", "false", "1", "0"],
                required=False,
                description="true: only leads a copy can start with now (active, not full).",
            ),
            OpenApiParameter(
                "search",
                str,
                required=False,
                description=f"Part of a nickname (case-insensitive, at most {selectors.SEARCH_MAX} "
                "characters).",
            ),
            *PAGE_PARAMETERS,
        ],
        responses={200: paginated(TraderSerializer), **READ_ERRORS},
    )
    def get(self, request):
        q = request.query_params
        rows = selectors.trader_directory(
            ordering=q.get("ordering"),
            status=selectors.status_parse(q.get("status")),
            market=selectors.market_parse(q.get("market")),
            has_room=selectors.has_room_parse(q.get("has_room")),
            search=selectors.search_parse(q.get("search")),
        )
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(
            TraderSerializer([_trader_out(r) for r in page], many=True).data
        )


class TraderDetailApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="trader_get",
        tags=["traders"],
        summary="A lead trader's profile",
        description=STATS_NOTE + " `periods` lists the stats of 7d, 30d, 90d and all time; "
        "`tracking_30d` how closely copiers tracked the lead over 30 days; `daily` the days "
        "of `period`. With `market=spot` every figure is of the lead spot account and the "
        "spot copies (a 400 for a lead who does not trade spot: see `markets`).",
        parameters=[
            OpenApiParameter(
                "period",
                str,
                enum=list(Period.values),
                required=False,
                description="The days `daily` covers (default all).",
            ),
            OpenApiParameter(
                "market",
                str,
                enum=list(selectors.MARKETS),
                required=False,
                description="futures (default) or spot.",
            ),
        ],
        responses={200: TraderDetailSerializer, **READ_ERRORS},
    )
    def get(self, request, trader_id: int):
        q = request.query_params
        profile = selectors.trader_profile_get(
            trader_id=trader_id,
            period=selectors.period_parse(q.get("period")),
            market=selectors.market_parse(q.get("market")),
        )
        return Response(TraderDetailSerializer(_detail_out(profile)).data)


# --- the copy simulator ------------------------------------------------------------------------
SIMULATION_NOTE = (
    "A replay of the lead's recorded futures trades of the last `days` days through the same "
    "Smart Sync engine and booking code real copies use, at this investment: its rounding, "
    "minimum-size bumps, misses, fees, funding rounds, profit share and Total Stop Loss for "
    "Trader. The copy starts at the period's start holding nothing and fills at the lead's own "
    "prices (a real copy can miss or fill worse when the price moves). History, not a promise "
    "of future results."
)


class ReasonCountSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True)
    count = serializers.IntegerField()


class SimulationDailySerializer(serializers.Serializer):
    date = serializers.DateField()
    equity_usdt = MoneyField(help_text="The simulated copy's equity at the UTC day's end.")


class SimulationSerializer(serializers.Serializer):
    trader = serializers.IntegerField()
    days = serializers.IntegerField(help_text="7, 30 or 90.")
    start = serializers.DateTimeField(help_text="The simulated copy starts here.")
    end = serializers.DateTimeField()
    investment_usdt = MoneyField()
    stop_loss_usdt = MoneyField(allow_null=True)
    stop_loss_action = serializers.CharField()
    profit_share_ratio = MoneyField(help_text="The lead's ratio now (a copy started now).")
    equity_usdt = MoneyField(help_text="At the end, after the end's profit-share settlement.")
    pnl_usdt = MoneyField(help_text="equity - investment.")
    roi = MoneyField(help_text="pnl / investment, a fraction.")
    max_drawdown = _ratio("Largest fall of the daily equity from its peak.")
    lead_roi = _ratio(
        "The lead's own time-weighted ROI over the same number of full UTC days (its stats)."
    )
    roi_gap = _ratio("roi - lead_roi: what copying at this investment would have cost or added.")
    realized_pnl_usdt = MoneyField(help_text="Closed PnL - fees + funding.")
    unrealized_pnl_usdt = MoneyField(help_text="Of the positions still open at the end.")
    fees_usdt = MoneyField()
    funding_usdt = MoneyField(help_text="Received (+) or paid (-), net.")
    profit_share_usdt = MoneyField(help_text="Paid to the lead.")
    profit_share_owed_usdt = MoneyField(help_text="Due at the end, not payable from free cash.")
    copied = serializers.IntegerField(help_text="Lead events mirrored.")
    missed = ReasonCountSerializer(many=True, help_text="Opens not copied, per reason.")
    missed_total = serializers.IntegerField()
    sync_failed = ReasonCountSerializer(
        many=True, help_text="Leverage or margin changes not followed, per reason."
    )
    failed = serializers.IntegerField(help_text="Lead events that could not be mirrored.")
    liquidations = serializers.IntegerField()
    open_positions = serializers.IntegerField(help_text="Still open at the end.")
    stop_loss_triggered_at = serializers.DateTimeField(allow_null=True)
    stopped_at = serializers.DateTimeField(allow_null=True)
    stop_reason = serializers.CharField(allow_blank=True)
    daily = SimulationDailySerializer(many=True, help_text="One entry per UTC day, oldest first.")
    note = serializers.CharField()


def _counts(by_reason: dict[str, int]) -> list[dict]:
    return [
        {"reason": reason, "count": n}
        for reason, n in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


def simulation_out(sim: simulator.Simulation) -> dict:
    """The API's (and the page's) view of a Simulation: no arithmetic beyond the gap, which
    the Simulation itself defines (``roi_gap``)."""
    return {
        "trader": sim.lead_id,
        "days": sim.days,
        "start": sim.start,
        "end": sim.end,
        "investment_usdt": sim.investment,
        "stop_loss_usdt": sim.stop_loss,
        "stop_loss_action": sim.stop_loss_action,
        "profit_share_ratio": sim.profit_share_ratio,
        "equity_usdt": sim.equity,
        "pnl_usdt": sim.pnl_usdt,
        "roi": sim.roi,
        "max_drawdown": sim.max_drawdown,
        "lead_roi": sim.lead_roi,
        "roi_gap": sim.roi_gap,
        "realized_pnl_usdt": sim.realized_pnl_usdt,
        "unrealized_pnl_usdt": sim.unrealized_pnl_usdt,
        "fees_usdt": sim.fees_usdt,
        "funding_usdt": sim.funding_usdt,
        "profit_share_usdt": sim.profit_share_usdt,
        "profit_share_owed_usdt": sim.profit_share_owed_usdt,
        "copied": sim.copied,
        "missed": _counts(sim.missed),
        "missed_total": sum(sim.missed.values()),
        "sync_failed": _counts(sim.sync_failed),
        "failed": sim.failed,
        "liquidations": sim.liquidations,
        "open_positions": sim.open_positions,
        "stop_loss_triggered_at": sim.stop_loss_triggered_at,
        "stopped_at": sim.stopped_at,
        "stop_reason": sim.stop_reason,
        "daily": [{"date": d, "equity_usdt": e} for d, e in sim.daily],
        "note": SIMULATION_NOTE,
    }


class TraderSimulateApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [SimulateThrottle]

    @extend_schema(
        operation_id="trader_simulate",
        tags=["traders"],
        summary="What would I have made? (the copy simulator)",
        description=SIMULATION_NOTE
        + " Input errors are 400 naming the field (`investment_usdt` at least the minimum "
        "investment; `stop_loss_usdt` above 0 and below the investment; `days` 7, 30 or 90). "
        "Answers are cached for a few minutes per (trader, days, amounts, last lead event). "
        "Limit: 30 requests a minute per IP; over it the answer is 429 with `Retry-After`.",
        parameters=[
            OpenApiParameter(
                "investment_usdt",
                str,
                required=True,
                description="The Total Investment to replay, in USDT (e.g. 1000).",
            ),
            OpenApiParameter(
                "days",
                int,
                enum=list(simulator.PERIODS),
                required=False,
                description="30 if absent.",
            ),
            OpenApiParameter(
                "stop_loss_usdt",
                str,
                required=False,
                description="Optional Total Stop Loss for Trader, in USDT.",
            ),
            OpenApiParameter(
                "stop_loss_action",
                str,
                enum=["close_all", "keep", "hand_over"],
                required=False,
                description="What the stop loss does (default close_all).",
            ),
        ],
        responses={
            200: SimulationSerializer,
            400: ErrorSerializer,
            404: ErrorSerializer,
            429: ErrorSerializer,
        },
    )
    def get(self, request, trader_id: int):
        q = request.query_params
        sim = selectors.trader_simulate(
            trader_id=trader_id,
            investment=q.get("investment_usdt"),
            days=q.get("days") or 30,
            stop_loss=q.get("stop_loss_usdt") or None,
            stop_loss_action=q.get("stop_loss_action") or None,
        )
        return Response(SimulationSerializer(simulation_out(sim)).data)
