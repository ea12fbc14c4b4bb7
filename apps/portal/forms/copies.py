"""Forms of the follower pages: the copy wizard's steps and Settings.

They check only the shape of the input (something typed, a known choice). Amounts stay the text
the person typed ("1,000.50") and go to the services as is, so the refusals and their words are
the services' (apps.copies.services), the same as the API's. ``apps.core.forms.service_error``
puts a refusal next to its field.
"""

from __future__ import annotations

from django import forms

from apps.copies.models import Copy
from apps.core.forms import MoneyInput

UNIT_USDT = "usdt"
UNIT_PERCENT = "percent"

ACTION_HELP = {
    Copy.StopLossAction.CLOSE_ALL: (
        "Every open position of this copy closes at market and all the cash returns to your "
        "main account."
    ),
    Copy.StopLossAction.KEEP: (
        "No new positions open; the open ones stay and close when the lead trader closes "
        "them. The cash returns once none is left."
    ),
    Copy.StopLossAction.HAND_OVER: (
        "No new positions open; the open ones become yours to close from Copy Trade Details "
        "(the lead's closes no longer apply). The cash returns once none is left."
    ),
}


class InvestmentForm(forms.Form):
    """Wizard step 1: Total Investment and Copy Ongoing Positions (a spot copy: Buy Existing
    Assets, the same ``copy_ongoing_positions`` flag of the service and the API)."""

    total_investment = forms.CharField(
        label="Total Investment",
        max_length=40,
        widget=MoneyInput(attrs={"placeholder": "e.g. 1,000"}),
        error_messages={"required": "Enter your Total Investment (at least 100 USDT)."},
    )
    copy_ongoing_positions = forms.BooleanField(label="Copy Ongoing Positions", required=False)

    def __init__(self, *args, market: str = Copy.Market.FUTURES, **kwargs):
        super().__init__(*args, **kwargs)
        if market == Copy.Market.SPOT:
            self.fields["copy_ongoing_positions"].label = "Buy Existing Assets"


# A spot copy holds assets, not positions: the same actions in its words (SPEC §6, §7).
SPOT_ACTION_LABELS = {
    Copy.StopLossAction.CLOSE_ALL: "Sell all holdings at market",
    Copy.StopLossAction.KEEP: "Keep holdings and follow the lead's sells",
    Copy.StopLossAction.HAND_OVER: "Hand over holdings to me",
}
SPOT_ACTION_HELP = {
    Copy.StopLossAction.CLOSE_ALL: (
        "Every holding of this copy is sold at market and all the USDT returns to your main "
        "account."
    ),
    Copy.StopLossAction.KEEP: (
        "No new buys; the holdings stay and are sold when the lead trader sells them. The USDT "
        "returns once none is left."
    ),
    Copy.StopLossAction.HAND_OVER: (
        "No new buys; the holdings become yours to sell from Copy Trade Details (the lead's "
        "sells no longer apply). The USDT returns once none is left."
    ),
}


def action_label(action: str, market: str = Copy.Market.FUTURES) -> str:
    """A stop-loss action's name in the words of the copy's market."""
    if market == Copy.Market.SPOT:
        return SPOT_ACTION_LABELS[Copy.StopLossAction(action)]
    return Copy.StopLossAction(action).label


class StopLossForm(forms.Form):
    """Total Stop Loss for Trader (an amount or a % of the Total Investment) and its action:
    wizard step 2 and the Settings page's Save."""

    total_stop_loss = forms.CharField(
        label="Total Stop Loss for Trader",
        required=False,
        max_length=40,
        widget=MoneyInput(attrs={"placeholder": "Optional"}),
    )
    stop_loss_unit = forms.ChoiceField(
        label="Stop loss in",
        choices=[(UNIT_USDT, "USDT"), (UNIT_PERCENT, "% of the Total Investment")],
        initial=UNIT_USDT,
        widget=forms.RadioSelect,
    )
    stop_loss_action = forms.ChoiceField(
        label="When it triggers",
        choices=Copy.StopLossAction.choices,
        initial=Copy.StopLossAction.CLOSE_ALL,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, market: str = Copy.Market.FUTURES, **kwargs):
        super().__init__(*args, **kwargs)
        self.market = market
        if market == Copy.Market.SPOT:
            self.fields["stop_loss_action"].choices = list(SPOT_ACTION_LABELS.items())

    def actions(self) -> list[tuple[object, str]]:
        """(radio, what it means) for each action, to render as choice cards."""
        words = SPOT_ACTION_HELP if self.market == Copy.Market.SPOT else ACTION_HELP
        return [(radio, words.get(radio.data["value"], "")) for radio in self["stop_loss_action"]]


class ModifyForm(forms.Form):
    """Settings: Modify Total Investment (the new total)."""

    total_investment = forms.CharField(
        label="New Total Investment",
        max_length=40,
        widget=MoneyInput(),
        error_messages={"required": "Enter the new Total Investment."},
    )
