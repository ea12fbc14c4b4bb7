"""Forms of the public trader pages: the directory's filters and the profile's copy simulator.

They check only the shape of the input (a known choice, something typed). Amounts stay the
text the person typed ("1,000.50") and go to the simulator as is, so its refusals and their
words are the API's (``GET traders/{id}/simulate/``); ``apps.core.forms.service_error`` puts
them next to their field.
"""

from __future__ import annotations

from django import forms

from apps.copies.models import Copy
from apps.core.forms import MoneyInput
from apps.stats.simulator import PERIODS

# the simulate API's field names -> this form's
SIMULATION_FIELDS = {
    "investment_usdt": "investment",
    "total_investment_usdt": "investment",
    "stop_loss_usdt": "stop_loss",
    "total_stop_loss_usdt": "stop_loss",
    "stop_loss_action": "stop_loss_action",
    "days": "days",
}


class SimulationForm(forms.Form):
    """What would I have made: an investment, an optional Total Stop Loss for Trader and its
    action, and the period replayed."""

    investment = forms.CharField(
        label="Total Investment",
        max_length=40,
        widget=MoneyInput(attrs={"placeholder": "e.g. 1,000"}),
        error_messages={"required": "Enter a Total Investment to replay (at least 100 USDT)."},
    )
    days = forms.TypedChoiceField(
        label="Over the last",
        choices=[(str(n), f"{n} days") for n in PERIODS],
        coerce=int,
        initial="30",
        widget=forms.RadioSelect,
    )
    stop_loss = forms.CharField(
        label="Total Stop Loss for Trader",
        required=False,
        max_length=40,
        widget=MoneyInput(attrs={"placeholder": "Optional"}),
    )
    stop_loss_action = forms.ChoiceField(
        label="When it triggers",
        choices=Copy.StopLossAction.choices,
        initial=Copy.StopLossAction.CLOSE_ALL,
        required=False,
    )
