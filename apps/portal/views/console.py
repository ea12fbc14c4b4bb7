"""The lead console (/lead/): a lead trader's figures, funds, positions and earnings, and the
spot section (SPEC §6): the lead spot account's figures, funds in and out, a buy of an amount of
USDT with its quantity and fee before confirming, a sale of a share of a holding, the holdings.

Pages only read selectors and format with the money template filters: no money math here.
The forms call the same services as the API (apps.traders.services) through
``idempotent_form``: a double click or a resubmitted form trades once.
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts.idempotency import form_key, idempotent_form
from apps.copies.selectors import risk_views
from apps.core.exceptions import ApplicationError, NotFound
from apps.core.forms import service_error
from apps.core.money import fmt_amount
from apps.fees import selectors as fees_selectors
from apps.ledger.selectors import wallet_get
from apps.market.models import Instrument
from apps.market.selectors import instrument_get, instrument_list, price_get
from apps.portal.forms import console as forms
from apps.positions.models import MarginMode, Position
from apps.positions.selectors import (
    AccountFigures,
    account_figures_one,
    position_list,
    position_upnl,
)
from apps.stats.selectors import lead_figures_get
from apps.traders import services
from apps.traders.models import LeadTrader
from apps.traders.selectors import lead_for_user, lead_spot_get

# --- the lead console ---------------------------------------------------------------------
# /lead/ is for approved lead traders. A signed-in user who is not one gets a page that says
# so (403); a lead whose strategy ended keeps the reads (figures, positions) and the transfer
# out, and every trading form is replaced by a sentence saying why.


def lead_required(view):
    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        lead = lead_for_user(request.user)
        if lead is None:
            return render(request, "traders/console_denied.html", status=403)
        request.lead = lead
        return view(request, *args, **kwargs)

    return wrapper


def _instruments() -> list[Instrument]:
    return list(instrument_list(Instrument.Kind.PERPETUAL, active_only=True))


def _open_positions(lead: LeadTrader, account: AccountFigures | None = None) -> list[dict]:
    """The lead's open sub-positions with uPnL, mark, liquidation price and margin level
    (copies.selectors.risk_views over apps.positions.risk, the figures the risk pass liquidates
    on; cross: the account's)."""
    positions = list(position_list(account_id=lead.futures_account_id, status=Position.Status.OPEN))
    if not positions:
        return []
    risk = risk_views(account or account_figures_one(lead.futures_account_id))
    return [
        {"position": p, "upnl": position_upnl(p), "mark": _mark(p), "risk": risk.get(p.pk)}
        for p in positions
    ]


def _mark(position: Position):
    price = getattr(position.instrument, "price", None)  # select_related: no query
    return price.price if price is not None else None


def _quote(data, available=None) -> dict:
    """What the open form would trade at the current price: size, margin used and fee from
    ``services.open_quote``, or the reason it cannot be quoted yet (in the services' words).
    With ``available`` (the lead futures account's), a quote that needs more says so before
    the lead sends it."""
    margin = (data.get("margin") or "").strip()
    if not margin:
        return {
            "prompt": "Type a margin to see the size in contracts, the margin used and the fee."
        }
    try:
        inst = instrument_get(data.get("instrument") or "")
    except NotFound:
        inst = None
    if inst is None or inst.kind != Instrument.Kind.PERPETUAL or not inst.active:
        return {"error": "Choose one of the listed instruments."}
    try:
        lev = int(str(data.get("leverage") or "").strip())
    except ValueError:
        return {"error": "Leverage must be a whole number, e.g. 5."}
    if not 1 <= lev <= (inst.max_leverage or 1):
        return {"error": f"Leverage must be between 1 and {inst.max_leverage}x for {inst.name}."}
    try:
        amount = services.parse_amount(margin, field="margin_usdt", label="Margin")
        price = price_get(inst)
        size, used, fee = services.open_quote(
            instrument=inst, margin=amount, leverage=lev, price=price
        )
    except ApplicationError as exc:
        return {"error": exc.message}
    return {
        "instrument": inst,
        "leverage": lev,
        "price": price,
        "size": size,
        "used": used,
        "fee": fee,
        "available": available,
        "short": available is not None
        and not services.open_fits(used=used, fee=fee, available=available),
    }


def _console_context(request, **bound) -> dict:
    lead: LeadTrader = request.lead
    ended = not lead.is_active
    spot = _spot_context(request, lead, **bound)
    open_form = bound.get("open_form")
    account = account_figures_one(lead.futures_account_id)
    if open_form is not None:
        quote = _quote(open_form.data, account.available)
    else:
        open_form = forms.OpenForm(instruments=_instruments())
        quote = _quote({})
    return {
        "lead": lead,
        "ended": ended,
        "account": account,
        "figures": lead_figures_get(lead=lead),
        "main_available": wallet_get(user=request.user)["available_usdt"],
        "positions": _open_positions(lead, account),
        "transfer_form": bound.get("transfer_form") or forms.TransferForm(ended=ended),
        "open_form": open_form,
        "quote": quote,
        **spot,
        **_earnings_context(request, lead),
    }


EARNINGS_PAGE_SIZE = 10
SETTLEMENTS_SHOWN = 5


def _earnings_context(request, lead: LeadTrader) -> dict:
    """Profit share earned (SPEC §8): in total, and per copy (a page of copies, newest first),
    from the selectors ``GET /api/v1/lead/earnings/`` reads. Copiers are named by copy id."""
    page = Paginator(fees_selectors.lead_earning_copies(lead=lead), EARNINGS_PAGE_SIZE).get_page(
        request.GET.get("earnings")
    )
    rows = [
        {
            "row": r,
            "settlements": [
                {"s": s, "written_off": fees_selectors.settlement_written_off(s)}
                for s in r.settlements[:SETTLEMENTS_SHOWN]
            ],
            "settlements_more": max(0, len(r.settlements) - SETTLEMENTS_SHOWN),
        }
        for r in fees_selectors.earning_rows(page.object_list)
    ]
    return {
        "earnings": fees_selectors.lead_earnings_total(lead=lead),
        "earnings_page": page,
        "earning_rows": rows,
    }


@require_GET
@lead_required
def lead_console(request):
    part = request.GET.get("part")
    if request.htmx and part in ("figures", "positions"):
        lead = request.lead
        context = {"lead": lead, "ended": not lead.is_active}
        if part == "figures":
            context |= {
                "account": account_figures_one(lead.futures_account_id),
                "figures": lead_figures_get(lead=lead),
            }
        else:
            context["positions"] = _open_positions(lead)
        return render(request, f"traders/console.html#{part}", context)
    if request.htmx and part in ("spot-figures", "holdings"):
        lead = request.lead
        context = {"lead": lead, "ended": not lead.is_active, "spot": lead_spot_get(lead=lead)}
        return render(request, f"traders/console.html#{part}", context)
    if request.htmx and part == "earnings":
        context = {"lead": request.lead, **_earnings_context(request, request.lead)}
        return render(request, "traders/console.html#earnings", context)
    return render(request, "traders/console.html", _console_context(request))


@require_GET
@lead_required
def lead_console_quote(request):
    available = account_figures_one(request.lead.futures_account_id).available
    return render(
        request, "traders/console.html#open-quote", {"quote": _quote(request.GET, available)}
    )


def _typed_usdt(typed: str) -> str:
    """An amount the lead typed (and the service accepted), written like the pages write it."""
    return f"{fmt_amount(services.parse_amount(typed, field='amount_usdt'))} USDT"


def _done(request, answer: dict):
    """After a form did its work: the message, then back to the page (PRG; htmx: a client
    redirect, so figures, positions and the message all show the new state)."""
    messages.success(request, answer["message"])
    if request.htmx:
        return HttpResponseClientRedirect(answer["redirect"])
    return redirect(answer["redirect"])


def _refused(form, exc: ApplicationError) -> None:
    """A service's refusal next to its field (``form.field_map``: API names -> this form's)."""
    if exc.code == "idempotency_key_reused":
        exc = ApplicationError(
            "This form was already sent with other values. Check the figures above and "
            "send it again if you still want to."
        )
        form.data = form.data.copy()
        form.data["idempotency_key"] = form_key()
    service_error(form, exc, field_map=getattr(form, "field_map", forms.FIELD_MAP))


def _transfer(request, form, *, market: str, direction: str, amount: str, scope: str):
    """Move funds between the main account and a lead account, once per form key; the answer
    to send, or None with the service's refusal placed on the form."""
    d = form.cleaned_data

    def run() -> dict:
        services.lead_transfer(
            lead=request.lead, market=market, direction=d[direction], amount=d[amount]
        )
        where = "into" if d[direction] == "in" else "out of"
        return {
            "redirect": reverse("lead_console"),
            "message": f"Moved {_typed_usdt(d[amount])} {where} your lead {market} account.",
        }

    try:
        answer, _ = idempotent_form(request, scope=scope, payload=d, run=run)
    except ApplicationError as exc:
        _refused(form, exc)
        return None
    return _done(request, answer)


@require_POST
@lead_required
def lead_console_transfer(request):
    lead = request.lead
    form = forms.TransferForm(request.POST, ended=not lead.is_active)
    if form.is_valid():
        done = _transfer(
            request, form, market="futures", direction="direction", amount="amount",
            scope="page:lead-transfer",
        )  # fmt: skip
        if done is not None:
            return done
    if request.htmx:
        return render(
            request,
            "traders/console.html#transfer-form",
            {"transfer_form": form, "lead": lead, "ended": not lead.is_active},
        )
    return render(request, "traders/console.html", _console_context(request, transfer_form=form))


@require_POST
@lead_required
def lead_console_open(request):
    lead = request.lead
    form = forms.OpenForm(request.POST, instruments=_instruments())
    # "Preview" (the page without JavaScript) shows the quote for the typed values, opens nothing.
    if not request.POST.get("preview") and form.is_valid():
        d = form.cleaned_data

        def run() -> dict:
            pos = services.lead_position_open(
                lead=lead,
                instrument=d["instrument"],
                side=d["side"],
                margin_mode=d["margin_mode"],
                leverage=d["leverage"],
                margin=d["margin"],
            )
            return {
                "redirect": reverse("lead_console"),
                "message": f"Opened {pos.instrument.name} {pos.get_side_display().lower()} "
                f"{pos.leverage}x {pos.get_margin_mode_display().lower()}: "
                f"{fmt_amount(pos.size)} contracts at {fmt_amount(pos.entry_price)} USDT. "
                "Your copiers follow it now.",
            }

        try:
            answer, _ = idempotent_form(request, scope="page:lead-open", payload=d, run=run)
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            return _done(request, answer)
    if request.htmx:
        return render(
            request,
            "traders/console.html#open-form",
            {
                "open_form": form,
                "lead": lead,
                "ended": not lead.is_active,
                "quote": _quote(form.data),
            },
        )
    return render(request, "traders/console.html", _console_context(request, open_form=form))


# --- spot: the lead spot account, buys and sells (SPEC §6) --------------------------------
def _spot_instruments() -> list[Instrument]:
    return list(instrument_list(Instrument.Kind.SPOT, active_only=True))


def _spot_quote(data) -> dict:
    """What the buy form would buy at the current price: quantity, cost and the fee on top from
    ``services.spot_buy_quote``, or why it cannot be quoted yet (the services' words)."""
    amount = (data.get("buy_amount") or "").strip()
    if not amount:
        return {"prompt": "Type an amount of USDT to see the quantity it buys and the fee."}
    try:
        inst = instrument_get(data.get("buy_instrument") or "")
    except NotFound:
        inst = None
    if inst is None or inst.kind != Instrument.Kind.SPOT or not inst.active:
        return {"error": "Choose one of the listed assets."}
    try:
        typed = services.parse_amount(amount, field="amount_usdt", label="Amount")
        price = price_get(inst)
        quantity, cost, fee = services.spot_buy_quote(instrument=inst, amount=typed, price=price)
    except ApplicationError as exc:
        return {"error": exc.message}
    return {"instrument": inst, "price": price, "quantity": quantity, "cost": cost, "fee": fee}


def _spot_context(request, lead: LeadTrader, **bound) -> dict:
    ended = not lead.is_active
    spot = lead_spot_get(lead=lead)
    buy_form = bound.get("spot_buy_form")
    if buy_form is None:
        buy_form = forms.SpotBuyForm(instruments=_spot_instruments())
    sell_form = bound.get("spot_sell_form")
    if sell_form is None:
        sell_form = forms.SpotSellForm(holdings=spot.holdings)
        asked = request.GET.get("sell", "")
        if asked in dict(sell_form.fields["sell_instrument"].widget.choices):
            sell_form.initial["sell_instrument"] = asked
    return {
        "spot": spot,
        "spot_transfer_form": bound.get("spot_transfer_form")
        or forms.SpotTransferForm(ended=ended),
        "spot_buy_form": buy_form,
        "spot_quote": _spot_quote(buy_form.data if buy_form.is_bound else {}),
        "spot_sell_form": sell_form,
        "sell_presets": forms.SELL_PRESETS,
    }


def _spot_refused_page(request, partial: str, form_name: str, form):
    """A refused spot form: its partial for htmx (the typed values and the refusal next to the
    field), else the whole console."""
    lead = request.lead
    if request.htmx:
        context = {
            "lead": lead,
            "ended": not lead.is_active,
            form_name: form,
            "sell_presets": forms.SELL_PRESETS,
        }
        if form_name == "spot_buy_form":
            context["spot_quote"] = _spot_quote(form.data)
        if form_name == "spot_sell_form":
            context["spot"] = lead_spot_get(lead=lead)
        return render(request, f"traders/console.html#{partial}", context)
    return render(request, "traders/console.html", _console_context(request, **{form_name: form}))


@require_GET
@lead_required
def lead_console_spot_quote(request):
    return render(
        request, "traders/console.html#spot-quote", {"spot_quote": _spot_quote(request.GET)}
    )


@require_POST
@lead_required
def lead_console_spot_transfer(request):
    lead = request.lead
    form = forms.SpotTransferForm(request.POST, ended=not lead.is_active)
    if form.is_valid():
        done = _transfer(
            request, form, market="spot", direction="spot_direction", amount="spot_amount",
            scope="page:lead-spot-transfer",
        )  # fmt: skip
        if done is not None:
            return done
    return _spot_refused_page(request, "spot-transfer-form", "spot_transfer_form", form)


@require_POST
@lead_required
def lead_console_spot_buy(request):
    lead = request.lead
    form = forms.SpotBuyForm(request.POST, instruments=_spot_instruments())
    # "Preview" (the page without JavaScript) shows the quote for the typed values, buys nothing.
    if not request.POST.get("preview") and form.is_valid():
        d = form.cleaned_data

        def run() -> dict:
            holding = services.lead_spot_buy(
                lead=lead, instrument=d["buy_instrument"], amount=d["buy_amount"]
            )
            fill = holding.fills.order_by("-id").first()
            asset = holding.instrument.base_asset
            return {
                "redirect": reverse("lead_console"),
                "message": f"Bought {fmt_amount(fill.quantity)} {asset} at "
                f"{fmt_amount(fill.price)} USDT, fee {fmt_amount(fill.fee)} USDT. You now hold "
                f"{fmt_amount(holding.size)} {asset}. Your spot copiers buy the same share of "
                "their equity.",
            }

        try:
            answer, _ = idempotent_form(request, scope="page:lead-spot-buy", payload=d, run=run)
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            return _done(request, answer)
    return _spot_refused_page(request, "spot-buy-form", "spot_buy_form", form)


@require_POST
@lead_required
def lead_console_spot_sell(request):
    lead = request.lead
    spot = lead_spot_get(lead=lead)
    form = forms.SpotSellForm(request.POST, holdings=spot.holdings)
    if form.is_valid():
        d = form.cleaned_data

        def run() -> dict:
            holding = services.lead_spot_sell(
                lead=lead, instrument=d["sell_instrument"], fraction=d["fraction"]
            )
            asset = holding.instrument.base_asset
            if holding.status == Position.Status.CLOSED:
                words = f"Sold all your {asset}."
            else:
                words = (
                    f"Sold {d['percent_done']}% of your {asset}: {fmt_amount(holding.size)} "
                    f"{asset} left."
                )
            return {
                "redirect": reverse("lead_console"),
                "message": f"{words} Your spot copiers sell the same share of what they copied.",
            }

        try:
            answer, _ = idempotent_form(request, scope="page:lead-spot-sell", payload=d, run=run)
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            return _done(request, answer)
    return _spot_refused_page(request, "spot-sell-form", "spot_sell_form", form)


# --- one position: close, leverage, margin ------------------------------------------------
def _own_position(lead: LeadTrader, position_id: int) -> Position:
    """The lead's own sub-position (open or closed); anyone else's is 404."""
    pos = position_list(account_id=lead.futures_account_id).filter(pk=position_id).first()
    if pos is None:
        raise Http404("No such position in your lead futures account.")
    return pos


def _position_page(request, pos: Position, *, status: int = 200, **bound):
    lead = request.lead
    risk = (
        risk_views(account_figures_one(lead.futures_account_id)).get(pos.pk)
        if pos.status == Position.Status.OPEN
        else None
    )
    context = {
        "lead": lead,
        "ended": not lead.is_active,
        "p": pos,
        "upnl": position_upnl(pos),
        "mark": _mark(pos),
        "risk": risk,
        "isolated": pos.margin_mode == MarginMode.ISOLATED,
        "close_form": bound.get("close_form") or forms.CloseForm(),
        "leverage_form": bound.get("leverage_form")
        or forms.LeverageForm(initial={"leverage": pos.leverage}),
        "margin_form": bound.get("margin_form") or forms.MarginForm(),
        "presets": forms.CLOSE_PRESETS,
        # a refusal of a form the page does not show (ended strategy, cross margin)
        "refusals": [e for f in bound.values() for errs in f.errors.values() for e in errs],
    }
    if request.htmx and bound:
        name = next(iter(bound)).replace("_", "-")
        return render(request, f"traders/console_position.html#{name}", context, status=status)
    return render(request, "traders/console_position.html", context, status=status)


@require_GET
@lead_required
def lead_console_position(request, position_id: int):
    return _position_page(request, _own_position(request.lead, position_id))


def _position_action(request, position_id, *, form_class, form_name, scope, run_service, words):
    """The shared POST flow of the three position forms."""
    lead = request.lead
    pos = _own_position(lead, position_id)
    form = form_class(request.POST)
    if form.is_valid():
        d = form.cleaned_data

        def run() -> dict:
            after = run_service(lead, pos, d)
            still_open = after.status == Position.Status.OPEN
            target = (
                reverse("lead_console_position", args=[pos.pk])
                if still_open
                else reverse("lead_console")
            )
            return {"redirect": target, "message": words(after, d)}

        try:
            answer, _ = idempotent_form(request, scope=f"{scope}:{pos.pk}", payload=d, run=run)
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            return _done(request, answer)
    return _position_page(request, pos, **{form_name: form})


@require_POST
@lead_required
def lead_console_close(request, position_id: int):
    def run(lead, pos, d):
        return services.lead_position_close(lead=lead, position=pos.pk, fraction=d["fraction"])

    def words(after, d):
        if after.status == Position.Status.CLOSED:
            return f"Closed your {after.instrument.name} position. Your copiers close theirs too."
        return (
            f"Closed {d['percent_closed']}% of your {after.instrument.name} position: "
            f"{fmt_amount(after.size)} contracts stay open. Your copiers close the same share."
        )

    return _position_action(
        request,
        position_id,
        form_class=forms.CloseForm,
        form_name="close_form",
        scope="page:lead-close",
        run_service=run,
        words=words,
    )


@require_POST
@lead_required
def lead_console_leverage(request, position_id: int):
    def run(lead, pos, d):
        return services.lead_position_leverage(lead=lead, position=pos.pk, leverage=d["leverage"])

    def words(after, d):
        return f"Leverage of your {after.instrument.name} position is now {after.leverage}x."

    return _position_action(
        request,
        position_id,
        form_class=forms.LeverageForm,
        form_name="leverage_form",
        scope="page:lead-leverage",
        run_service=run,
        words=words,
    )


@require_POST
@lead_required
def lead_console_margin(request, position_id: int):
    def run(lead, pos, d):
        return services.lead_position_margin(lead=lead, position=pos.pk, amount=d["signed_amount"])

    def words(after, d):
        verb = "Added" if d["action"] == "add" else "Removed"
        where = "to" if d["action"] == "add" else "from"
        return (
            f"{verb} {_typed_usdt(d['amount'])} {where} the margin of your "
            f"{after.instrument.name} position."
        )

    return _position_action(
        request,
        position_id,
        form_class=forms.MarginForm,
        form_name="margin_form",
        scope="page:lead-margin",
        run_service=run,
        words=words,
    )


# --- end the strategy -----------------------------------------------------------------------
@require_http_methods(["GET", "POST"])
@lead_required
def lead_console_end(request):
    lead = request.lead
    form = forms.EndForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():

        def run() -> dict:
            services.lead_trader_end(lead=lead, actor=request.user)
            return {
                "redirect": reverse("lead_console"),
                "message": "Your strategy has ended. Every copy is being stopped: positions "
                "closed at market and the cash returned to each follower.",
            }

        try:
            answer, _ = idempotent_form(
                request, scope="page:lead-end", payload=form.cleaned_data, run=run
            )
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            return _done(request, answer)
    context = {
        "lead": lead,
        "ended": not lead.is_active,
        "figures": lead_figures_get(lead=lead),
        "open_count": position_list(
            account_id=lead.futures_account_id, status=Position.Status.OPEN
        ).count(),
        "form": form,
    }
    return render(request, "traders/console_end.html", context)
