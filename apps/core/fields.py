"""Model fields for money, quantities and prices: Decimal with 8 places, never float."""

from django.db import models

from apps.core.money import MAX_DIGITS, USDT_PLACES


class MoneyField(models.DecimalField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", USDT_PLACES)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, "apps.core.fields.MoneyField", args, kwargs


class QuantityField(MoneyField):
    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, "apps.core.fields.QuantityField", args, kwargs


class PriceField(MoneyField):
    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, "apps.core.fields.PriceField", args, kwargs
