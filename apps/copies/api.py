"""Copies REST API: a follower's own Smart Sync copies (SPEC §5.1, §5.4).

Views only parse input and call a service (apps.copies.services) or selector. A user sees and
changes only their own copies: another user's copy id is 404, never 403, so ids cannot be
probed. Figures (equity, PnL, available, ...) come from ``copy_figures_many``, the one
definition shared with the pages and the admin; a list costs a constant number of queries.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.idempotency import idempotent_post
from apps.copies import selectors, services
from apps.copies.models import Copy, CopyEvent
from apps.copies.selectors import CopyFigures
from apps.core.api import PAGE_PARAMETERS, ErrorSerializer, MoneyField, Pagination, paginated
from apps.core.exceptions import ApplicationError
from apps.positions.models import MarginMode, Position
from apps.positions.risk import PositionRisk, account_risk
from apps.positions.selectors import (
    account_figures_one,
    position_list,
    position_upnl,
    position_value,
)

AUTH_ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
READ_ERRORS = {400: ErrorSerializer, 404: ErrorSerializer, **AUTH_ERRORS}
WRITE_ERRORS = {400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer, **AUTH_ERRORS}


def _status_param(request, allowed) -> str | None:
    value = request.query_params.get("status") or None
    if value is not None and value not in allowed:
        raise ApplicationError(
            f"Status must be one of: {', '.join(allowed)}.",
            code="invalid_status",
            fields={"status": f"One of {', '.join(allowed)}."},
        )
    return value


# --- serializers ----------------------------------------------------------------------------
class CopyStartInputSerializer(serializers.Serializer):
    trader = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, help_text="The lead trader's id."
    )
    market = serializers.ChoiceField(choices=Copy.Market.choices, default=Copy.Market.FUTURES)
    total_investment_usdt = MoneyField(help_text="At least 100 USDT, from your main account.")
    copy_ongoing_positions = serializers.BooleanField(
        default=False, help_text="Open the lead's current positions now, at market."
    )
    total_stop_loss_usdt = MoneyField(
        required=False,
        allow_null=True,
        help_text="Total Stop Loss for Trader: more than 0 and less than the investment.",
    )
    stop_loss_action = serializers.ChoiceField(
        choices=Copy.StopLossAction.choices, default=Copy.StopLossAction.CLOSE_ALL
    )


class CopySettingsInputSerializer(serializers.Serializer):
    total_stop_loss_usdt = MoneyField(
        required=False, allow_null=True, help_text="null clears the Total Stop Loss for Trader."
    )
    stop_loss_action = serializers.ChoiceField(choices=Copy.StopLossAction.choices, required=False)


class CopyInvestmentInputSerializer(serializers.Serializer):
    total_investment_usdt = MoneyField(
        help_text="The new total: more moves money in, less moves free copy cash out."
    )


class CopySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    trader = serializers.IntegerField(help_text="The lead trader's id.")
    trader_nickname = serializers.CharField()
    market = serializers.ChoiceField(choices=Copy.Market.choices)
    status = serializers.ChoiceField(choices=Copy.Status.choices)
    total_investment_usdt = MoneyField(help_text="Net investment: moved in - moved out.")
    equity_usdt = MoneyField(help_text="Cash + margins + unrealized PnL.")
    pnl_usdt = MoneyField(help_text="Equity - net investment (stopped: net realized PnL).")
    realized_pnl_usdt = MoneyField(help_text="Closed PnL - trading fees + funding.")
    unrealized_pnl_usdt = MoneyField()
    margin_in_use_usdt = MoneyField()
    available_usdt = MoneyField(help_text="Free for new margin and fees.")
    total_stop_loss_usdt = MoneyField(allow_null=True)
    stop_loss_action = serializers.ChoiceField(choices=Copy.StopLossAction.choices)
    profit_share_ratio = MoneyField(help_text="Snapshot of the lead's ratio at start.")
    profit_share_paid_usdt = MoneyField()
    profit_share_pending_usdt = MoneyField(
        help_text="What a settlement now would pay: owed + ratio x max(0, R - high-water mark)."
    )
    profit_share_owed_usdt = MoneyField(
        help_text="Not paid at a settlement because the copy's cash was short: paid first next."
    )
    funding_usdt = MoneyField(help_text="Funding of all its positions: received (+), paid (-).")
    started_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True)
    stop_reason = serializers.CharField(allow_blank=True)
    stopping = serializers.BooleanField(
        help_text="Total Stop Loss for Trader triggered: no new opens; the copy stops (and its "
        "cash returns) once no position remains."
    )
    stop_loss_triggered_at = serializers.DateTimeField(allow_null=True)
    stop_loss_trigger = serializers.JSONField(
        help_text="What triggered it: pnl_usdt, equity_usdt, stop_loss_usdt, action, marks."
    )


def _copy_out(copy: Copy, f: CopyFigures) -> dict:
    return {
        "id": copy.pk,
        "trader": copy.lead_id,
        "trader_nickname": copy.lead.nickname,
        "market": copy.market,
        "status": copy.status,
        "total_investment_usdt": copy.total_investment,
        "equity_usdt": f.equity,
        "pnl_usdt": f.pnl,
        "realized_pnl_usdt": f.realized_pnl,
        "unrealized_pnl_usdt": f.unrealized_pnl,
        "margin_in_use_usdt": f.margin_in_use,
        "available_usdt": f.available,
        "total_stop_loss_usdt": copy.total_stop_loss,
        "stop_loss_action": copy.stop_loss_action,
        "profit_share_ratio": copy.profit_share_ratio,
        "profit_share_paid_usdt": copy.profit_share_paid,
        "profit_share_pending_usdt": f.profit_share_pending,
        "profit_share_owed_usdt": copy.profit_share_owed,
        "funding_usdt": f.funding,
        "started_at": copy.started_at,
        "stopped_at": copy.stopped_at,
        "stop_reason": copy.stop_reason,
        "stopping": copy.is_stopping,
        "stop_loss_triggered_at": copy.stop_loss_triggered_at,
        "stop_loss_trigger": copy.stop_loss_trigger,
    }


def _copy_response(user, copy_id, *, status_code=status.HTTP_200_OK) -> Response:
    copy = selectors.copy_get_for_user(user=user, copy_id=copy_id)
    data = CopySerializer(_copy_out(copy, selectors.copy_figures(copy))).data
    return Response(data, status=status_code)


class CopyPositionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lead_position = serializers.IntegerField(allow_null=True, help_text="The lead sub-position.")
    instrument = serializers.CharField()
    side = serializers.CharField()
    margin_mode = serializers.CharField()
    leverage = serializers.IntegerField()
    size = MoneyField(help_text="Contracts still open.")
    opened_size = MoneyField(help_text="Contracts at open.")
    entry_price = MoneyField()
    lead_entry_price = MoneyField(allow_null=True, help_text="The lead's fill price.")
    exit_price = MoneyField(allow_null=True, help_text="Average close price.")
    margin_usdt = MoneyField()
    unrealized_pnl_usdt = MoneyField(help_text="At the current price; 0 once closed.")
    realized_pnl_usdt = MoneyField(help_text="Gross of fees.")
    fees_usdt = MoneyField()
    funding_usdt = MoneyField(help_text="Paid (-) or received (+).")
    liquidation_price = MoneyField(
        allow_null=True,
        help_text="Isolated: the position's; cross: the account's when all its cross positions "
        "are in one instrument; null when there is none (or once closed).",
    )
    margin_level = MoneyField(
        allow_null=True,
        help_text="1 = 100% (OKX definition). Isolated: the position's; cross: the account's.",
    )
    handed_over = serializers.BooleanField(
        help_text="Handed over by Total Stop Loss for Trader: the lead no longer steers it."
    )
    value_usdt = MoneyField(
        allow_null=True,
        help_text="At the current price: contracts x contract value x price; a spot holding: "
        "quantity x price. null once closed.",
    )
    average_cost = MoneyField(
        allow_null=True,
        help_text="Spot holdings: cost basis (margin_usdt) / quantity (size). null for futures.",
    )
    status = serializers.CharField(help_text="open or closed.")
    close_reason = serializers.CharField(allow_blank=True)
    explanation = serializers.JSONField(
        help_text="How the size was decided: ratio, base, target, rounding, cap, bump."
    )
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


def _position_out(pos: Position, risk: dict[int, PositionRisk] | None = None) -> dict:
    r = (risk or {}).get(pos.pk) if pos.status == Position.Status.OPEN else None
    return {
        "id": pos.pk,
        "lead_position": pos.lead_position_id,
        "instrument": pos.instrument.name,
        "side": pos.side,
        "margin_mode": pos.margin_mode,
        "leverage": pos.leverage,
        "size": pos.size,
        "opened_size": pos.opened_size,
        "entry_price": pos.entry_price,
        "lead_entry_price": pos.lead_entry_price,
        "exit_price": pos.exit_price,
        "margin_usdt": pos.margin,
        "unrealized_pnl_usdt": position_upnl(pos),
        "realized_pnl_usdt": pos.realized_pnl,
        "fees_usdt": pos.fees,
        "funding_usdt": pos.funding,
        "liquidation_price": r.liquidation_price if r else None,
        "margin_level": r.margin_level if r else None,
        "handed_over": pos.handed_over,
        "value_usdt": position_value(pos),
        "average_cost": pos.entry_price if pos.margin_mode == MarginMode.SPOT else None,
        "status": pos.status,
        "close_reason": pos.close_reason,
        "explanation": pos.explanation,
        "opened_at": pos.opened_at,
        "closed_at": pos.closed_at,
    }


class CopyEventSerializer(serializers.ModelSerializer):
    lead_event = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    lead_event_kind = serializers.CharField(
        source="lead_event.kind", read_only=True, allow_null=True, default=None
    )
    position = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    amount_usdt = MoneyField(source="amount", read_only=True, allow_null=True)

    class Meta:
        model = CopyEvent
        fields = [
            "id",
            "kind",
            "lead_event",
            "lead_event_kind",
            "position",
            "reason",
            "amount_usdt",
            "explanation",
            "created_at",
        ]


def _paginated(request, view, items, serialize):
    paginator = Pagination()
    page = paginator.paginate_queryset(items, request, view=view)
    return paginator.get_paginated_response(serialize(list(page)))


# --- views ----------------------------------------------------------------------------------
class CopyListApi(APIView):
    @extend_schema(
        operation_id="copy_list",
        tags=["copies"],
        summary="My Copies",
        parameters=[
            OpenApiParameter("status", str, enum=list(Copy.Status.values), required=False),
            *PAGE_PARAMETERS,
        ],
        responses={
            200: paginated(CopySerializer),
            400: ErrorSerializer,
            404: ErrorSerializer,
            **AUTH_ERRORS,
        },
    )
    def get(self, request):
        qs = selectors.copy_list_for_user(
            user=request.user, status=_status_param(request, Copy.Status.values)
        )

        def serialize(copies):
            figures = selectors.copy_figures_many(copies)
            return CopySerializer([_copy_out(c, figures[c.pk]) for c in copies], many=True).data

        return _paginated(request, self, qs, serialize)

    @extend_schema(
        operation_id="copy_start",
        tags=["copies"],
        summary="Start a Smart Sync copy",
        description="Moves the Total Investment from your main account into a new copy "
        "account. Refused: below 100 USDT, insufficient main balance, copying yourself, "
        "an ended or full lead trader (409), a duplicate active copy (409), 20 active copies "
        "(409), an unknown trader (404). Spot copies are not available yet (400).",
        request=CopyStartInputSerializer,
        responses={201: CopySerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request):
        data = CopyStartInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        copy = services.copy_start(
            follower=request.user,
            lead=v["trader"],
            market=v["market"],
            total_investment=v["total_investment_usdt"],
            copy_ongoing_positions=v["copy_ongoing_positions"],
            total_stop_loss=v.get("total_stop_loss_usdt"),
            stop_loss_action=v["stop_loss_action"],
        )
        return _copy_response(request.user, copy.pk, status_code=status.HTTP_201_CREATED)


class CopyDetailApi(APIView):
    @extend_schema(
        operation_id="copy_get",
        tags=["copies"],
        summary="Copy Trade Details",
        responses={200: CopySerializer, 404: ErrorSerializer, **AUTH_ERRORS},
    )
    def get(self, request, copy_id: int):
        return _copy_response(request.user, copy_id)

    @extend_schema(
        operation_id="copy_settings_update",
        tags=["copies"],
        summary="Settings: Total Stop Loss for Trader and its action",
        description="Only the fields sent change; `total_stop_loss_usdt: null` clears it. "
        "A stopped copy's settings cannot change (409).",
        request=CopySettingsInputSerializer,
        responses={200: CopySerializer, **WRITE_ERRORS},
    )
    def patch(self, request, copy_id: int):
        data = CopySettingsInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        changes = {}
        if "total_stop_loss_usdt" in v:
            changes["total_stop_loss"] = v["total_stop_loss_usdt"]
        if "stop_loss_action" in v:
            changes["stop_loss_action"] = v["stop_loss_action"]
        copy = selectors.copy_get_for_user(user=request.user, copy_id=copy_id)
        services.copy_settings_update(copy=copy, user=request.user, **changes)
        return _copy_response(request.user, copy_id)


class CopyInvestmentApi(APIView):
    @extend_schema(
        operation_id="copy_investment_modify",
        tags=["copies"],
        summary="Modify the Total Investment",
        description="An increase moves money in from your main account; a decrease moves free "
        "copy cash out, only while the new total stays at least 100 USDT and the cash is not "
        "margin in use.",
        request=CopyInvestmentInputSerializer,
        responses={200: CopySerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request, copy_id: int):
        data = CopyInvestmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        copy = selectors.copy_get_for_user(user=request.user, copy_id=copy_id)
        services.copy_investment_modify(
            copy=copy,
            user=request.user,
            total_investment=data.validated_data["total_investment_usdt"],
        )
        return _copy_response(request.user, copy_id)


class CopyStopApi(APIView):
    @extend_schema(
        operation_id="copy_stop",
        tags=["copies"],
        summary="Stop copying",
        description="Closes every position at market, settles profit share and returns all "
        "cash to your main account. The copy and its history stay (status stopped).",
        request=None,
        responses={200: CopySerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request, copy_id: int):
        copy = selectors.copy_get_for_user(user=request.user, copy_id=copy_id)
        services.copy_stop(copy=copy, user=request.user)
        return _copy_response(request.user, copy_id)


class CopyPositionListApi(APIView):
    @extend_schema(
        operation_id="copy_position_list",
        tags=["copies"],
        summary="A copy's positions",
        parameters=[
            OpenApiParameter("status", str, enum=list(Position.Status.values), required=False),
            *PAGE_PARAMETERS,
        ],
        responses={200: paginated(CopyPositionSerializer), **READ_ERRORS},
    )
    def get(self, request, copy_id: int):
        copy = selectors.copy_get_for_user(user=request.user, copy_id=copy_id)
        qs = position_list(
            account_id=copy.account_id, status=_status_param(request, Position.Status.values)
        )
        risk = account_risk(account_figures_one(copy.account_id))
        return _paginated(
            request,
            self,
            qs,
            lambda rows: (
                CopyPositionSerializer([_position_out(p, risk) for p in rows], many=True).data
            ),
        )


class CopyPositionCloseApi(APIView):
    @extend_schema(
        operation_id="copy_position_close",
        tags=["copies"],
        summary="Close one copied position by hand, at market",
        description="Its funds stay in the copy account; later lead events on that "
        "sub-position no longer touch this copy.",
        request=None,
        responses={200: CopyPositionSerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request, copy_id: int, position_id: int):
        copy = selectors.copy_get_for_user(user=request.user, copy_id=copy_id)
        pos = services.copy_position_close(copy=copy, position=position_id, user=request.user)
        pos = Position.objects.select_related("instrument__price").get(pk=pos.pk)
        return Response(CopyPositionSerializer(_position_out(pos)).data)


class CopyEventListApi(APIView):
    @extend_schema(
        operation_id="copy_event_list",
        tags=["copies"],
        summary="A copy's history: copied, missed (with the reason), stops, ...",
        parameters=PAGE_PARAMETERS,
        responses={200: paginated(CopyEventSerializer), **READ_ERRORS},
    )
    def get(self, request, copy_id: int):
        copy = selectors.copy_get_for_user(user=request.user, copy_id=copy_id)
        return _paginated(
            request,
            self,
            selectors.copy_events(copy=copy),
            lambda rows: CopyEventSerializer(rows, many=True).data,
        )
