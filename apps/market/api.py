"""Market REST API: public instruments and prices, and the operators' price setter.

Decimals leave as strings with 8 places. Serializers only parse; services decide.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import ErrorSerializer, MoneyField

from .candles import DEFAULT_LIMIT, INTERVALS, MAX_LIMIT, candle_series
from .models import Instrument, Price
from .selectors import instrument_get, instrument_list, price_list
from .services import price_set


class InstrumentOutputSerializer(serializers.ModelSerializer):
    contract_value = MoneyField(read_only=True)
    lot_size = MoneyField(read_only=True)
    min_size = MoneyField(read_only=True)
    mmr = MoneyField(read_only=True, allow_null=True)
    taker_fee = MoneyField(read_only=True)
    tick_size = MoneyField(read_only=True)

    class Meta:
        model = Instrument
        fields = (
            "name",
            "kind",
            "base_asset",
            "quote_asset",
            "contract_value",
            "lot_size",
            "min_size",
            "max_leverage",
            "mmr",
            "taker_fee",
            "tick_size",
            "active",
        )


class PriceOutputSerializer(serializers.ModelSerializer):
    instrument = serializers.CharField(source="instrument.name", read_only=True)
    kind = serializers.CharField(source="instrument.kind", read_only=True)
    price = MoneyField(read_only=True)
    funding_rate = MoneyField(read_only=True)

    class Meta:
        model = Price
        fields = ("instrument", "kind", "price", "funding_rate", "source", "updated_at")


class PriceSetInputSerializer(serializers.Serializer):
    instrument = serializers.CharField(max_length=64)
    price = MoneyField()
    funding_rate = MoneyField(required=False, allow_null=True)


@extend_schema(
    tags=["market"],
    parameters=[OpenApiParameter("kind", str, enum=list(Instrument.Kind.values), required=False)],
    responses={
        200: InstrumentOutputSerializer(many=True),
        400: ErrorSerializer,
        404: ErrorSerializer,
    },
)
class InstrumentListApi(ListAPIView):
    """Every instrument with its trading specs (public)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []  # public: a stale session must not turn this into a 403
    serializer_class = InstrumentOutputSerializer

    def get_queryset(self):
        kind = self.request.query_params.get("kind") or None
        if kind is not None and kind not in Instrument.Kind.values:
            raise serializers.ValidationError(
                {"kind": f"Must be one of {', '.join(Instrument.Kind.values)}."}
            )
        return instrument_list(kind)


@extend_schema(
    tags=["market"],
    responses={200: PriceOutputSerializer(many=True), 404: ErrorSerializer},
)
class PriceListApi(ListAPIView):
    """The current price of every instrument that has one; it is both last and mark price."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    serializer_class = PriceOutputSerializer

    def get_queryset(self):
        return price_list()


class OperatorPriceSetApi(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        tags=["operator"],
        summary="Set an instrument's price (and optionally its funding rate); runs risk checks",
        request=PriceSetInputSerializer,
        responses={
            200: PriceOutputSerializer,
            400: ErrorSerializer,
            401: ErrorSerializer,
            403: ErrorSerializer,
        },
    )
    def post(self, request):
        serializer = PriceSetInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        price = price_set(
            instrument=data["instrument"],
            price=data["price"],
            funding_rate=data.get("funding_rate"),
            source="operator",
        )
        return Response(PriceOutputSerializer(price).data)


class CandleOutputSerializer(serializers.Serializer):
    start = serializers.DateTimeField(help_text="Start of the interval (UTC).")
    open = MoneyField(help_text="First price of the interval.")
    high = MoneyField(help_text="Highest price of the interval.")
    low = MoneyField(help_text="Lowest price of the interval.")
    close = MoneyField(help_text="Last price of the interval.")
    ticks = serializers.IntegerField(help_text="Price changes in the interval.")


class CandleSeriesOutputSerializer(serializers.Serializer):
    instrument = serializers.CharField()
    interval = serializers.ChoiceField(choices=list(INTERVALS))
    limit = serializers.IntegerField()
    results = CandleOutputSerializer(many=True, help_text="Oldest first.")


class CandleQuerySerializer(serializers.Serializer):
    interval = serializers.ChoiceField(choices=list(INTERVALS), default="1h")
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=DEFAULT_LIMIT)


class CandleListApi(APIView):
    """Price candles of one instrument for charts (public), oldest first. 1m and 1h: the newest
    ``limit`` candles. 1d: the days among the last ``limit`` days up to the newest candle, rolled
    up from the hours (open = first, close = last, high = max, low = min). An interval without
    any price change has no candle. The newest candle may still be open; candles are refreshed
    about once a minute. Not paginated: ask for more history with a larger ``limit``."""

    permission_classes = [AllowAny]
    authentication_classes: list = []  # public, like prices/

    @extend_schema(
        tags=["market"],
        parameters=[
            OpenApiParameter(
                "instrument", str, OpenApiParameter.PATH, description="e.g. BTC-USDT-SWAP"
            ),
            OpenApiParameter(
                "interval",
                str,
                enum=list(INTERVALS),
                required=False,
                default="1h",
                description="Candle length.",
            ),
            OpenApiParameter(
                "limit",
                int,
                required=False,
                default=DEFAULT_LIMIT,
                description=f"At most this many candles (1d: days back), 1 to {MAX_LIMIT}.",
            ),
        ],
        responses={200: CandleSeriesOutputSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request, instrument: str):
        query = CandleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        inst = instrument_get(instrument)
        interval, limit = query.validated_data["interval"], query.validated_data["limit"]
        rows = candle_series(instrument=inst, interval=interval, limit=limit)
        return Response(
            CandleSeriesOutputSerializer(
                {"instrument": inst.name, "interval": interval, "limit": limit, "results": rows}
            ).data
        )
