"""Instruments, their one price (last = mark), price history and funding rates (SPEC §4)."""

from django.db import models

from apps.core.fields import MoneyField, PriceField, QuantityField


class Instrument(models.Model):
    class Kind(models.TextChoices):
        PERPETUAL = "perpetual", "Perpetual swap"
        SPOT = "spot", "Spot"

    name = models.CharField(max_length=32, unique=True)  # "BTC-USDT-SWAP", "BTC-USDT"
    kind = models.CharField(max_length=16, choices=Kind.choices)
    base_asset = models.CharField(max_length=16)  # "BTC"
    quote_asset = models.CharField(max_length=16, default="USDT")
    # Perpetual: base units per contract (0.01 BTC). Spot: 1 (quantities are in base units).
    contract_value = QuantityField(default=1)
    lot_size = QuantityField()
    min_size = QuantityField()
    max_leverage = models.PositiveIntegerField(null=True, blank=True)
    mmr = MoneyField(null=True, blank=True)  # maintenance margin rate
    taker_fee = MoneyField()
    # Price increment of the simulated feed. Operator and replay prices are not forced onto it
    # (any price with <= 8 places is accepted) so that reference values like 40,180.8137 work.
    tick_size = PriceField(default="0.01")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_perpetual(self) -> bool:
        return self.kind == self.Kind.PERPETUAL


class Price(models.Model):
    """The current price of an instrument, used as last and mark price."""

    instrument = models.OneToOneField(Instrument, on_delete=models.CASCADE, related_name="price")
    price = PriceField()
    funding_rate = MoneyField(default="0.0001")  # perpetuals; per 8 h
    updated_at = models.DateTimeField()
    source = models.CharField(max_length=16, default="operator")

    class Meta:
        ordering = ["instrument__name"]

    def __str__(self) -> str:
        return f"{self.instrument} {self.price}"


class PriceTick(models.Model):
    """History: one row per price change."""

    class Source(models.TextChoices):
        OPERATOR = "operator", "Operator"
        SIMULATED = "simulated", "Simulated feed"
        REPLAY = "replay", "CSV replay"
        SEED = "seed", "Seed"

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="ticks")
    price = PriceField()
    source = models.CharField(max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["instrument", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.price} @ {self.created_at:%Y-%m-%d %H:%M:%S}"


class FeedState(models.Model):
    """The simulated random walk's state, so a restarted feed continues reproducibly."""

    instrument = models.OneToOneField(Instrument, on_delete=models.CASCADE)
    step = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"feed {self.instrument_id} step {self.step}"


class Candle(models.Model):
    """A minute (or an hour) of an instrument's price history (apps/market/candles.py).

    A 1-minute candle aggregates its minute's ticks: open/close are the first/last tick by
    (created_at, id), high/low the max/min, ``ticks`` how many. An unsealed minute is recomputed
    from its ticks (idempotent); ``sealed`` means those ticks were pruned, so the candle is the
    only record and a late tick is merged into it (``first_tick_at``/``last_tick_at`` order that
    merge). A 1-hour candle is rolled up from its minutes and never sealed; 1-day candles are
    rolled up from the hours when read.
    """

    class Interval(models.TextChoices):
        MINUTE = "1m", "1 minute"
        HOUR = "1h", "1 hour"  # rolled up from the minutes whenever one of them changes

    # no index of its own: the unique constraint below leads with instrument
    instrument = models.ForeignKey(
        Instrument, on_delete=models.CASCADE, related_name="candles", db_index=False
    )
    interval = models.CharField(max_length=3, choices=Interval.choices, default=Interval.MINUTE)
    start = models.DateTimeField()  # UTC, on the minute (the hour)
    open = PriceField()
    high = PriceField()
    low = PriceField()
    close = PriceField()
    ticks = models.PositiveIntegerField()
    first_tick_at = models.DateTimeField()
    last_tick_at = models.DateTimeField()
    sealed = models.BooleanField(default=False)

    class Meta:
        ordering = ["-start", "-id"]
        # the admin's list and date hierarchy (newest first, MIN/MAX) across instruments
        indexes = [models.Index(fields=["start"], name="market_candle_start")]
        constraints = [
            # Also the index of every read: one instrument's candles in time order.
            models.UniqueConstraint(
                fields=["instrument", "interval", "start"], name="market_candle_unique_start"
            ),
            models.CheckConstraint(
                condition=models.Q(low__lte=models.F("open"))
                & models.Q(low__lte=models.F("close"))
                & models.Q(high__gte=models.F("open"))
                & models.Q(high__gte=models.F("close"))
                & models.Q(ticks__gte=1),
                name="market_candle_ohlc_consistent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.interval} {self.start:%Y-%m-%d %H:%M}"
