"""Forms of the lead console: they check the shape of the input (a choice, a whole number, a
sign) and hand money amounts to the services as typed, so every refusal about money is the
service's own message (apps.core.forms.service_error puts it next to its field).

Every form here moves money or changes a position, so each carries the hidden
``idempotency_key`` minted when it is rendered (apps.accounts.idempotency.form_key).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms

from apps.accounts.idempotency import FORM_FIELD, form_key
from apps.core.forms import MoneyInput
from apps.core.money import fmt_amount
from apps.positions.models import MarginMode, Side

# API field names of the services' refusals -> the fields of these forms.
FIELD_MAP = {"amount_usdt": "amount", "margin_usdt": "margin", "fraction": "percent"}
CLOSE_PRESETS = ("25", "50", "75", "100")


class _KeyedForm(forms.Form):
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        if data is None:
            self.initial.setdefault(FORM_FIELD, form_key())


def _directions(form: forms.Form, name: str, *, ended: bool) -> None:
    """A transfer's direction field: In first; after the strategy's end only Out (the service
    refuses In too)."""
    if ended:
        form.fields[name].choices = [form.fields[name].choices[1]]
        form.initial.setdefault(name, "out")
    else:
        form.initial.setdefault(name, "in")


class TransferForm(_KeyedForm):
    direction = forms.ChoiceField(
        label="Direction",
        choices=[
            ("in", "In: main account → lead futures account"),
            ("out", "Out: lead futures account → main account"),
        ],
        widget=forms.RadioSelect,
    )
    amount = forms.CharField(label="Amount", max_length=40, widget=MoneyInput)

    def __init__(self, data=None, *, ended: bool = False, **kwargs):
        super().__init__(data, **kwargs)
        _directions(self, "direction", ended=ended)


class OpenForm(_KeyedForm):
    instrument = forms.ChoiceField(label="Instrument")
    side = forms.ChoiceField(label="Side", choices=Side.choices, widget=forms.RadioSelect)
    margin_mode = forms.ChoiceField(
        label="Margin mode",
        choices=[(m.value, m.label) for m in (MarginMode.CROSS, MarginMode.ISOLATED)],
        widget=forms.RadioSelect,
    )
    leverage = forms.IntegerField(
        label="Leverage",
        min_value=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "data-quote": ""}),
        error_messages={"invalid": "Leverage must be a whole number, e.g. 5."},
    )
    margin = forms.CharField(
        label="Margin",
        max_length=40,
        widget=MoneyInput(attrs={"data-quote": "", "placeholder": "e.g. 100"}),
    )

    def __init__(self, data=None, *, instruments=(), **kwargs):
        super().__init__(data, **kwargs)
        self.instruments = {i.name: i for i in instruments}
        self.fields["instrument"].choices = [
            (i.name, f"{i.name} (up to {i.max_leverage}x)") for i in instruments
        ]
        self.fields["instrument"].widget.attrs["data-quote"] = ""
        for name, value in (("side", Side.LONG), ("margin_mode", MarginMode.CROSS)):
            self.initial.setdefault(name, value)
        self.initial.setdefault("leverage", 5)

    def clean(self):
        data = super().clean()
        inst = self.instruments.get(data.get("instrument") or "")
        lev = data.get("leverage")
        if inst is not None and lev is not None and lev > (inst.max_leverage or 1):
            self.add_error(
                "leverage",
                f"Leverage must be between 1 and {inst.max_leverage}x for {inst.name}.",
            )
        return data


class CloseForm(_KeyedForm):
    """Close a share of a position: a preset button (25/50/75/100 %) or a typed percentage.
    ``fraction`` (0 < f <= 1) is what the service takes."""

    preset = forms.ChoiceField(
        choices=[(p, f"{p}%") for p in CLOSE_PRESETS], required=False, widget=forms.HiddenInput
    )
    percent = forms.CharField(
        label="Percentage to close",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def clean(self):
        data = super().clean()
        raw = data.get("preset") or (data.get("percent") or "").strip().rstrip("%").strip()
        if not raw:
            self.add_error("percent", "Choose 25%, 50%, 75% or 100%, or type a percentage.")
            return data
        try:
            pct = Decimal(raw)
        except InvalidOperation:
            self.add_error("percent", f"Type a number between 0 and 100, e.g. 40 (got {raw!r}).")
            return data
        if not pct.is_finite() or not (0 < pct <= 100):
            self.add_error("percent", "The percentage must be more than 0 and at most 100.")
            return data
        data["fraction"] = str(pct.scaleb(-2))  # a unit (percent -> fraction), not money
        data["percent_closed"] = f"{pct.normalize():f}"
        return data


class LeverageForm(_KeyedForm):
    leverage = forms.IntegerField(
        label="New leverage",
        min_value=1,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={"invalid": "Leverage must be a whole number, e.g. 5."},
    )


class MarginForm(_KeyedForm):
    """Add or reduce an isolated position's margin: the button says which, the amount is typed
    without a sign; the service takes a signed amount (negative reduces)."""

    action = forms.ChoiceField(
        choices=[("add", "Add"), ("reduce", "Reduce")], widget=forms.HiddenInput
    )
    amount = forms.CharField(label="Amount", max_length=40, widget=MoneyInput)

    def clean(self):
        data = super().clean()
        amount = (data.get("amount") or "").strip()
        if amount.startswith(("-", "+")):
            self.add_error("amount", "Type the amount without a sign, then choose Add or Reduce.")
        elif amount and data.get("action"):
            data["signed_amount"] = f"-{amount}" if data["action"] == "reduce" else amount
        return data


class EndForm(_KeyedForm):
    """End the strategy: nothing to type, the confirmation is the button."""


# --- the spot section of the console (SPEC §6) ----------------------------------------------
# Its fields have names of their own (spot_amount, buy_amount, sell_percent, ...) so the page,
# which also holds the futures forms, has one id per input; each form maps the services' API
# field names onto its own fields (``field_map``).
SELL_PRESETS = CLOSE_PRESETS


class SpotTransferForm(_KeyedForm):
    """Move USDT between the main account and the lead spot account."""

    field_map = {"amount_usdt": "spot_amount", "direction": "spot_direction"}

    spot_direction = forms.ChoiceField(
        label="Direction",
        choices=[
            ("in", "In: main account → lead spot account"),
            ("out", "Out: lead spot account → main account"),
        ],
        widget=forms.RadioSelect,
    )
    spot_amount = forms.CharField(label="Amount", max_length=40, widget=MoneyInput)

    def __init__(self, data=None, *, ended: bool = False, **kwargs):
        super().__init__(data, **kwargs)
        _directions(self, "spot_direction", ended=ended)


class SpotBuyForm(_KeyedForm):
    """Buy an amount of USDT of an asset at market; the fee is paid on top."""

    field_map = {"amount_usdt": "buy_amount", "instrument": "buy_instrument"}

    buy_instrument = forms.ChoiceField(label="Asset")
    buy_amount = forms.CharField(
        label="Amount to spend",
        max_length=40,
        widget=MoneyInput(attrs={"data-spot-quote": "", "placeholder": "e.g. 1,000"}),
    )

    def __init__(self, data=None, *, instruments=(), **kwargs):
        super().__init__(data, **kwargs)
        self.fields["buy_instrument"].choices = [
            (i.name, f"{i.base_asset} ({i.name})") for i in instruments
        ]
        self.fields["buy_instrument"].widget.attrs["data-spot-quote"] = ""


def _percent_fraction(form: forms.Form, data: dict, preset: str, percent: str, verb: str) -> None:
    """A preset button (25/50/75/100) or a typed percentage -> ``data["fraction"]`` (0 < f <= 1,
    what the services take) and ``data["percent_done"]`` for the message."""
    raw = data.get(preset) or (data.get(percent) or "").strip().rstrip("%").strip()
    if not raw:
        form.add_error(percent, f"Choose 25%, 50%, 75% or 100%, or type a percentage to {verb}.")
        return
    try:
        pct = Decimal(raw)
    except InvalidOperation:
        form.add_error(percent, f"Type a number between 0 and 100, e.g. 40 (got {raw!r}).")
        return
    if not pct.is_finite() or not (0 < pct <= 100):
        form.add_error(percent, "The percentage must be more than 0 and at most 100.")
        return
    data["fraction"] = str(pct.scaleb(-2))  # a unit (percent -> fraction), not money
    data["percent_done"] = f"{pct.normalize():f}"


class SpotSellForm(_KeyedForm):
    """Sell a share of a holding at market: a preset button or a typed percentage; the taker
    fee is deducted from what it fetches."""

    field_map = {"fraction": "sell_percent", "instrument": "sell_instrument"}

    # any text: the service says "You hold no BTC ..." (and a replayed double submit still
    # validates after the first one sold the whole holding)
    sell_instrument = forms.CharField(label="Holding", max_length=32, widget=forms.Select)
    preset = forms.ChoiceField(
        choices=[(p, f"{p}%") for p in SELL_PRESETS], required=False, widget=forms.HiddenInput
    )
    sell_percent = forms.CharField(
        label="Percentage to sell",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, data=None, *, holdings=(), **kwargs):
        super().__init__(data, **kwargs)
        self.fields["sell_instrument"].widget.choices = [
            (h.position.instrument.name, f"{h.asset}: {fmt_amount(h.quantity)} {h.asset}")
            for h in holdings
        ]

    def clean(self):
        data = super().clean()
        _percent_fraction(self, data, "preset", "sell_percent", "sell")
        return data
