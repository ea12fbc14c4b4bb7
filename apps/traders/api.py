"""Lead traders REST API: the lead's own console, a lead's public sub-positions, and the
operators' approval and ending of strategies. (The public directory and profiles, with their
stats, are apps.stats.api: stats sit above copies, traders below.)

Views only parse input and call a selector or service (apps.traders.services); refusals are
the services' ApplicationErrors rendered as ``{detail, code, fields}``. A lead can only see
and change positions of their own lead futures account: another lead's position id is 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, BasePermission, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.idempotency import idempotent_post
from apps.core.api import PAGE_PARAMETERS, ErrorSerializer, MoneyField, Pagination, paginated
from apps.core.exceptions import ApplicationError
from apps.core.money import exact, usdt_down
from apps.positions.models import Position
from apps.positions.selectors import (
    account_figures_one,
    position_list,
    position_upnl,
    position_value,
)
from apps.traders import selectors, services
from apps.traders.models import LeadTrader

READ_ERRORS = {400: ErrorSerializer, 404: ErrorSerializer}
AUTH_ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
WRITE_ERRORS = {400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer, **AUTH_ERRORS}


# --- permissions ----------------------------------------------------------------------------
class IsLeadTrader(BasePermission):
    """An approved lead trader. Views with ``allow_ended_lead = True`` (transfers out, reads)
    also admit a lead whose strategy ended, so their money never gets stuck."""

    message = "Only approved lead traders can do this."

    def has_permission(self, request, view) -> bool:
        lead = selectors.lead_for_user(request.user)
        if lead is None:
            return False
        if not lead.is_active and not getattr(view, "allow_ended_lead", False):
            self.message = "Your strategy has ended: you can no longer trade as a lead trader."
            return False
        request.lead = lead
        return True


class IsOperator(IsAdminUser):
    message = "Only operators (staff) can do this."


def _status_param(request, allowed) -> str | None:
    value = request.query_params.get("status") or None
    if value is not None and value not in allowed:
        raise ApplicationError(
            f"Status must be one of: {', '.join(allowed)}.",
            code="invalid_status",
            fields={"status": f"One of {', '.join(allowed)}."},
        )
    return value


STATUS_PARAM = OpenApiParameter(
    "status", str, enum=list(Position.Status.values), required=False, description="Filter."
)


# --- serializers ----------------------------------------------------------------------------
class LeadTraderSerializer(serializers.Serializer):
    """The lead trader record (its stats and copiers are at ``traders/{id}/``)."""

    id = serializers.IntegerField()
    nickname = serializers.CharField()
    status = serializers.CharField(help_text="active or ended.")
    bio = serializers.CharField(allow_blank=True)
    profit_share_ratio = MoneyField(help_text="Share of copiers' net realized profit, 0 to 0.30.")
    max_copiers = serializers.IntegerField()
    approved_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


def _lead_out(lead: LeadTrader) -> dict:
    return {
        "id": lead.pk,
        "nickname": lead.nickname,
        "status": lead.status,
        "bio": lead.bio,
        "profit_share_ratio": lead.profit_share_ratio,
        "max_copiers": lead.max_copiers,
        "approved_at": lead.approved_at,
        "ended_at": lead.ended_at,
    }


class LeadPositionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    instrument = serializers.CharField()
    side = serializers.CharField()
    margin_mode = serializers.CharField()
    leverage = serializers.IntegerField()
    size = MoneyField(help_text="Contracts still open.")
    opened_size = MoneyField(help_text="Contracts at open.")
    entry_price = MoneyField()
    exit_price = MoneyField(allow_null=True, help_text="Average close price.")
    margin_usdt = MoneyField()
    unrealized_pnl_usdt = MoneyField(help_text="At the current price; 0 once closed.")
    realized_pnl_usdt = MoneyField(help_text="Gross of fees.")
    fees_usdt = MoneyField()
    status = serializers.CharField(help_text="open or closed.")
    close_reason = serializers.CharField(allow_blank=True)
    opened_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)


def _position_out(pos: Position) -> dict:
    return {
        "id": pos.pk,
        "instrument": pos.instrument.name,
        "side": pos.side,
        "margin_mode": pos.margin_mode,
        "leverage": pos.leverage,
        "size": pos.size,
        "opened_size": pos.opened_size,
        "entry_price": pos.entry_price,
        "exit_price": pos.exit_price,
        "margin_usdt": pos.margin,
        "unrealized_pnl_usdt": position_upnl(pos),
        "realized_pnl_usdt": pos.realized_pnl,
        "fees_usdt": pos.fees,
        "status": pos.status,
        "close_reason": pos.close_reason,
        "opened_at": pos.opened_at,
        "closed_at": pos.closed_at,
    }


def _position_reload(pk: int) -> Position:
    return Position.objects.select_related("instrument__price").get(pk=pk)


class LeadAccountSerializer(serializers.Serializer):
    market = serializers.CharField(help_text="futures or spot.")
    balance_usdt = MoneyField(help_text="Cash + margins held in the account.")
    equity_usdt = MoneyField(help_text="Balance + unrealized PnL.")
    cash_usdt = MoneyField(help_text="Balance - margins.")
    margin_usdt = MoneyField(help_text="Margins of open positions.")
    unrealized_pnl_usdt = MoneyField()
    available_usdt = MoneyField(help_text="Free for new margin, fees or a transfer out.")


def _account_out(lead: LeadTrader, market: str) -> dict:
    account_id = lead.futures_account_id if market == "futures" else lead.spot_account_id
    f = account_figures_one(account_id)
    return {
        "market": market,
        "balance_usdt": f.balance,
        "equity_usdt": f.equity,
        "cash_usdt": f.cash,
        "margin_usdt": f.margin,
        "unrealized_pnl_usdt": f.upnl,
        "available_usdt": f.available,
    }


class TransferInputSerializer(serializers.Serializer):
    market = serializers.ChoiceField(choices=[("futures", "Futures"), ("spot", "Spot")])
    direction = serializers.ChoiceField(
        choices=["in", "out"], help_text="in: main -> lead account; out: lead account -> main."
    )
    amount_usdt = MoneyField(help_text="Greater than 0, at most 8 decimal places.")


class PositionOpenInputSerializer(serializers.Serializer):
    instrument = serializers.CharField(max_length=64, help_text="e.g. BTC-USDT-SWAP")
    side = serializers.ChoiceField(choices=["long", "short"])
    margin_mode = serializers.ChoiceField(choices=["cross", "isolated"])
    leverage = serializers.IntegerField(help_text="1 to the instrument's max leverage.")
    margin_usdt = MoneyField(help_text="Margin to commit; the size is rounded down to the lot.")


class PositionCloseInputSerializer(serializers.Serializer):
    fraction = serializers.DecimalField(
        max_digits=28, decimal_places=18, help_text="0 < fraction <= 1; 1 closes all."
    )


class PositionLeverageInputSerializer(serializers.Serializer):
    leverage = serializers.IntegerField()


class PositionMarginInputSerializer(serializers.Serializer):
    amount_usdt = MoneyField(help_text="Positive adds margin, negative reduces it (isolated).")


class LeadApproveInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254, help_text="An existing user's e-mail.")
    nickname = serializers.CharField(max_length=40)
    profit_share_ratio = serializers.DecimalField(
        max_digits=10, decimal_places=8, help_text="0 to 0.30."
    )
    max_copiers = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    bio = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


# --- public reads ---------------------------------------------------------------------------
class TraderPositionListApi(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        operation_id="trader_position_list",
        tags=["traders"],
        summary="A lead trader's sub-positions (public)",
        parameters=[STATUS_PARAM, *PAGE_PARAMETERS],
        responses={200: paginated(LeadPositionSerializer), **READ_ERRORS},
    )
    def get(self, request, trader_id: int):
        lead = selectors.trader_get(trader_id=trader_id)
        qs = position_list(
            account_id=lead.futures_account_id,
            status=_status_param(request, Position.Status.values),
        )
        return _paginated_positions(request, self, qs)


def _paginated_positions(request, view, qs):
    paginator = Pagination()
    page = paginator.paginate_queryset(qs, request, view=view)
    return paginator.get_paginated_response(
        LeadPositionSerializer([_position_out(p) for p in page], many=True).data
    )


# --- the lead's own console -----------------------------------------------------------------
class _LeadApi(APIView):
    permission_classes = [IsLeadTrader]


class LeadTransferApi(_LeadApi):
    allow_ended_lead = True

    @extend_schema(
        operation_id="lead_transfer",
        tags=["lead"],
        summary="Move cash between your main account and a lead account",
        description="Out moves only free cash (margin in use stays). After the strategy "
        "ended, only `out` is allowed (409 otherwise).",
        request=TransferInputSerializer,
        responses={200: LeadAccountSerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request):
        data = TransferInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        services.lead_transfer(
            lead=request.lead, market=v["market"], direction=v["direction"], amount=v["amount_usdt"]
        )
        return Response(LeadAccountSerializer(_account_out(request.lead, v["market"])).data)


class LeadAccountApi(_LeadApi):
    allow_ended_lead = True

    @extend_schema(
        operation_id="lead_account_get",
        tags=["lead"],
        summary="Your lead account's figures",
        parameters=[
            OpenApiParameter("market", str, enum=["futures", "spot"], required=False),
        ],
        responses={200: LeadAccountSerializer, 400: ErrorSerializer, **AUTH_ERRORS},
    )
    def get(self, request):
        market = request.query_params.get("market") or "futures"
        if market not in ("futures", "spot"):
            raise ApplicationError(
                "Market must be futures or spot.",
                code="invalid_market",
                fields={"market": "futures or spot"},
            )
        return Response(LeadAccountSerializer(_account_out(request.lead, market)).data)


class LeadPositionListApi(_LeadApi):
    def get_permissions(self):
        # Reading your own positions stays possible after the strategy ended.
        self.allow_ended_lead = self.request.method == "GET"
        return super().get_permissions()

    @extend_schema(
        operation_id="lead_position_list",
        tags=["lead"],
        summary="Your lead sub-positions",
        parameters=[STATUS_PARAM, *PAGE_PARAMETERS],
        responses={200: paginated(LeadPositionSerializer), **READ_ERRORS, **AUTH_ERRORS},
    )
    def get(self, request):
        qs = position_list(
            account_id=request.lead.futures_account_id,
            status=_status_param(request, Position.Status.values),
        )
        return _paginated_positions(request, self, qs)

    @extend_schema(
        operation_id="lead_position_open",
        tags=["lead"],
        summary="Open a sub-position at market (mirrored to your copiers)",
        request=PositionOpenInputSerializer,
        responses={201: LeadPositionSerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request):
        data = PositionOpenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        pos = services.lead_position_open(
            lead=request.lead,
            instrument=v["instrument"],
            side=v["side"],
            margin_mode=v["margin_mode"],
            leverage=v["leverage"],
            margin=v["margin_usdt"],
        )
        return Response(
            LeadPositionSerializer(_position_out(_position_reload(pos.pk))).data,
            status=status.HTTP_201_CREATED,
        )


class LeadPositionCloseApi(_LeadApi):
    allow_ended_lead = True  # after the strategy ended, the lead can still close (unwind)

    @extend_schema(
        operation_id="lead_position_close",
        tags=["lead"],
        summary="Close a fraction of a sub-position at market",
        description="A remainder below the minimum size is closed too.",
        request=PositionCloseInputSerializer,
        responses={200: LeadPositionSerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request, position_id: int):
        data = PositionCloseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pos = services.lead_position_close(
            lead=request.lead, position=position_id, fraction=data.validated_data["fraction"]
        )
        return Response(LeadPositionSerializer(_position_out(_position_reload(pos.pk))).data)


class LeadPositionLeverageApi(_LeadApi):
    @extend_schema(
        operation_id="lead_position_leverage",
        tags=["lead"],
        summary="Change a sub-position's leverage",
        description="Margin becomes entry notional / new leverage.",
        request=PositionLeverageInputSerializer,
        responses={200: LeadPositionSerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request, position_id: int):
        data = PositionLeverageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pos = services.lead_position_leverage(
            lead=request.lead, position=position_id, leverage=data.validated_data["leverage"]
        )
        return Response(LeadPositionSerializer(_position_out(_position_reload(pos.pk))).data)


class LeadPositionMarginApi(_LeadApi):
    @extend_schema(
        operation_id="lead_position_margin",
        tags=["lead"],
        summary="Add (positive) or reduce (negative) an isolated sub-position's margin",
        request=PositionMarginInputSerializer,
        responses={200: LeadPositionSerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request, position_id: int):
        data = PositionMarginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pos = services.lead_position_margin(
            lead=request.lead, position=position_id, amount=data.validated_data["amount_usdt"]
        )
        return Response(LeadPositionSerializer(_position_out(_position_reload(pos.pk))).data)


# --- operators ------------------------------------------------------------------------------
class OperatorLeadTraderCreateApi(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        operation_id="operator_lead_trader_create",
        tags=["operator"],
        summary="Approve an existing user as a lead trader (staff only)",
        description="Creates the lead futures and lead spot accounts. Answers the lead trader "
        "record; its stats and copiers are at `traders/{id}/`.",
        request=LeadApproveInputSerializer,
        responses={201: LeadTraderSerializer, **WRITE_ERRORS},
    )
    def post(self, request):
        data = LeadApproveInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        lead = services.lead_trader_approve(
            email=v["email"],
            nickname=v["nickname"],
            profit_share_ratio=v["profit_share_ratio"],
            max_copiers=v.get("max_copiers"),
            bio=v.get("bio", ""),
            operator=request.user,
        )
        return Response(LeadTraderSerializer(_lead_out(lead)).data, status=status.HTTP_201_CREATED)


class OperatorLeadTraderEndApi(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        operation_id="operator_lead_trader_end",
        tags=["operator"],
        summary="End a lead trader's strategy (staff only)",
        description="No new copies can start; every copy is stopped (positions closed at "
        "market, profit share settled, cash returned). Already ended: 409.",
        request=None,
        responses={200: LeadTraderSerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request, trader_id: int):
        lead = selectors.trader_get(trader_id=trader_id)
        ended = services.lead_trader_end(lead=lead, actor=request.user)
        return Response(LeadTraderSerializer(_lead_out(ended)).data)


class LeadEndApi(_LeadApi):
    allow_ended_lead = True  # ending again is a 409 from the service (or a replay of the first)

    @extend_schema(
        operation_id="lead_end",
        tags=["lead"],
        summary="End your own strategy",
        description="The same as an operator ending it: no new copies can start and every "
        "copy is stopped (positions closed at market, profit share settled, cash returned to "
        "each follower). Your own positions and lead accounts stay yours.",
        request=None,
        responses={200: LeadTraderSerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request):
        ended = services.lead_trader_end(lead=request.lead, actor=request.user)
        return Response(LeadTraderSerializer(_lead_out(ended)).data)


# --- spot (SPEC §6) -----------------------------------------------------------------------------
class SpotOrderInputSerializer(serializers.Serializer):
    instrument = serializers.CharField(max_length=64, help_text="e.g. BTC-USDT")
    side = serializers.ChoiceField(choices=["buy", "sell"])
    amount_usdt = MoneyField(
        required=False, help_text="buy: USDT to spend; the taker fee is paid on top."
    )
    fraction = serializers.DecimalField(
        max_digits=28,
        decimal_places=18,
        required=False,
        help_text="sell: 0 < fraction <= 1 of your holding of the asset; 1 sells it all.",
    )

    def validate(self, data):
        needed = "amount_usdt" if data["side"] == "buy" else "fraction"
        if data.get(needed) is None:
            raise serializers.ValidationError({needed: f"Required for a {data['side']}."})
        return data


class SpotHoldingSerializer(serializers.Serializer):
    asset = serializers.CharField(help_text="The base asset, e.g. BTC.")
    instrument = serializers.CharField()
    quantity = MoneyField()
    average_cost = MoneyField(help_text="Cost basis / quantity.")
    cost_usdt = MoneyField(help_text="What the holding cost (fees apart).")
    value_usdt = MoneyField(allow_null=True, help_text="Quantity x the current price.")
    unrealized_pnl_usdt = MoneyField()
    realized_pnl_usdt = MoneyField(help_text="Of the sales so far, at average cost.")


class SpotFillSerializer(serializers.Serializer):
    side = serializers.CharField()
    instrument = serializers.CharField()
    quantity = MoneyField(help_text="Base units bought or sold.")
    price = MoneyField()
    amount_usdt = MoneyField(help_text="buy: spent; sell: received before the fee.")
    fee_usdt = MoneyField()
    holding = SpotHoldingSerializer(help_text="Your holding of the asset after the fill.")


def _holding_out(pos: Position) -> dict:
    return {
        "asset": pos.instrument.base_asset,
        "instrument": pos.instrument.name,
        "quantity": pos.size,
        "average_cost": pos.entry_price,
        "cost_usdt": pos.margin,
        "value_usdt": position_value(pos),
        "unrealized_pnl_usdt": position_upnl(pos),
        "realized_pnl_usdt": pos.realized_pnl,
    }


class LeadSpotOrderApi(_LeadApi):
    allow_ended_lead = True  # selling stays possible after the end; buying is refused (409)

    @extend_schema(
        operation_id="lead_spot_order",
        tags=["lead"],
        summary="Buy or sell spot at market (mirrored to your spot copiers)",
        description="buy: spend `amount_usdt` (quantity rounded down to the lot, taker fee on "
        "top); sell: a `fraction` of your holding (taker fee deducted). Copiers buy the same "
        "share of their equity and sell the same share of what they copied.",
        request=SpotOrderInputSerializer,
        responses={201: SpotFillSerializer, **WRITE_ERRORS},
    )
    @idempotent_post
    def post(self, request):
        data = SpotOrderInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["side"] == "buy":
            holding = services.lead_spot_buy(
                lead=request.lead, instrument=v["instrument"], amount=v["amount_usdt"]
            )
        else:
            holding = services.lead_spot_sell(
                lead=request.lead, instrument=v["instrument"], fraction=v["fraction"]
            )
        holding = _position_reload(holding.pk)
        fill = holding.fills.order_by("-id").first()
        out = {
            "side": v["side"],
            "instrument": holding.instrument.name,
            "quantity": fill.quantity,
            "price": fill.price,
            "amount_usdt": usdt_down(exact(fill.quantity) * exact(fill.price)),
            "fee_usdt": fill.fee,
            "holding": _holding_out(holding),
        }
        return Response(SpotFillSerializer(out).data, status=status.HTTP_201_CREATED)


class LeadSpotHoldingListApi(_LeadApi):
    allow_ended_lead = True

    @extend_schema(
        operation_id="lead_spot_holdings",
        tags=["lead"],
        summary="Your spot holdings (at average cost)",
        parameters=[*PAGE_PARAMETERS],
        responses={200: paginated(SpotHoldingSerializer), 404: ErrorSerializer, **AUTH_ERRORS},
    )
    def get(self, request):
        qs = position_list(account_id=request.lead.spot_account_id, status=Position.Status.OPEN)
        paginator = Pagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(
            SpotHoldingSerializer([_holding_out(p) for p in page], many=True).data
        )
