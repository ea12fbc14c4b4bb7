"""Follower pages: the copy wizard, My Copies, Copy Trade Details and Settings (htmx).

Views parse input and call the same services (apps.copies.services) and selectors
(apps.copies.selectors) as the API; they do no money math. Every action is a real form that
works without JavaScript (POST, then redirect); with htmx the same form answers its partial
with the errors (200) or a client redirect. Money-moving forms (start, Modify, stop, close one
position) carry an idempotency key minted when the form is rendered and go through
``idempotent_form``: a double click or a resubmit gets the first answer and moves nothing twice.

The wizard keeps its draft (the values of the steps already passed) in a signed hidden field:
nothing is stored on the server until the confirm, Back works, and a double-clicked confirm
carries the same draft and key, so it replays the first answer.

Markets (SPEC §2, §6): a copy follows one market of a lead trader. Where the lead leads both
(``traders.selectors.lead_markets``) the wizard starts with the choice (``?market=`` skips
it); the market is in the draft from then on, the preview reads that market's lead account
(spot: Buy Existing Assets), and a duplicate is refused per market, so a follower may copy a
lead's futures and spot at once. A spot copy's Copy Trade Details shows holdings and sells.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from apps.accounts.idempotency import form_key, idempotent_form
from apps.copies import selectors, services
from apps.copies.models import Copy
from apps.core.exceptions import ApplicationError, NotFound
from apps.core.forms import service_error
from apps.core.money import fmt_amount, fmt_usdt
from apps.fees import selectors as fees_selectors
from apps.portal.forms.copies import InvestmentForm, ModifyForm, StopLossForm, action_label
from apps.traders.selectors import lead_markets, trader_get

PAGE_SIZE = 25
DETAIL_PAGE_SIZE = 20
SETTLEMENTS_PAGE_SIZE = 10
INVESTMENT_EVENTS_SHOWN = 50

WIZARD_SALT = "copies.wizard"
DRAFT_MAX_AGE = 6 * 3600
MARKET_STEP = ("market", "Market")
STEPS = (
    ("investment", "Total Investment"),
    ("stop_loss", "Total Stop Loss for Trader"),
    ("review", "Review and confirm"),
)
INVESTMENT_FIELDS = {"total_investment_usdt": "total_investment"}
STOP_LOSS_FIELDS = {"total_stop_loss_usdt": "total_stop_loss"}


def _done(request, url: str):
    """After a successful POST: a client redirect for htmx, a 303-style redirect otherwise."""
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _own_copy(request, copy_id) -> Copy:
    try:
        return selectors.copy_get_for_user(user=request.user, copy_id=copy_id)
    except NotFound:
        raise Http404("No such copy.") from None


# --- My Copies --------------------------------------------------------------------------------
def _tab(request) -> str:
    return "history" if request.GET.get("tab") == "history" else "ongoing"


def _my_copies_context(request, tab: str) -> dict:
    status = Copy.Status.STOPPED if tab == "history" else Copy.Status.ACTIVE
    page = Paginator(selectors.copy_list_for_user(user=request.user, status=status), PAGE_SIZE)
    page_obj = page.get_page(request.GET.get("page"))
    rows = selectors.copy_rows(list(page_obj.object_list))
    return {
        "tab": tab,
        "page_obj": page_obj,
        "rows": rows,
        "has_spot": any(r.is_spot for r in rows),
        "has_futures": any(not r.is_spot for r in rows),
        "counts": selectors.copy_counts_for_user(user=request.user),
    }


@require_GET
@login_required
def my_copies(request):
    tab = _tab(request)
    return render(request, "copies/my_copies.html", _my_copies_context(request, tab))


@require_GET
@login_required
def my_copies_live(request):
    """The live figures of My Copies (polled every 5 s while the tab is visible)."""
    tab = _tab(request)
    return render(request, "copies/my_copies.html#copies-table", _my_copies_context(request, tab))


# --- Copy Trade Details -----------------------------------------------------------------------
def _open_rows(copy: Copy) -> dict:
    """The open part of Copy Trade Details: positions (futures) or holdings (spot)."""
    if copy.market == Copy.Market.SPOT:
        return {"holdings": selectors.copy_holdings(copy=copy)}
    return {"positions": selectors.copy_open_positions(copy=copy)}


def _detail_context(request, copy: Copy) -> dict:
    spot = copy.market == Copy.Market.SPOT
    closed = selectors.copy_sells(copy=copy) if spot else selectors.copy_closed_positions(copy=copy)
    history = Paginator(closed, DETAIL_PAGE_SIZE)
    history_page = history.get_page(request.GET.get("history"))
    missed = Paginator(selectors.copy_missed_events(copy=copy), DETAIL_PAGE_SIZE)
    missed_page = missed.get_page(request.GET.get("missed"))
    investments = list(selectors.copy_investment_events(copy=copy)[: INVESTMENT_EVENTS_SHOWN + 1])
    settlements = Paginator(
        fees_selectors.profit_share_settlements_for_copy(copy=copy), SETTLEMENTS_PAGE_SIZE
    )
    settlements_page = settlements.get_page(request.GET.get("settlements"))
    return {
        **_figures_context(copy),
        **_open_rows(copy),
        "history_page": history_page,
        "history": (selectors.sell_rows if spot else selectors.position_rows)(
            history_page.object_list
        ),
        "missed_page": missed_page,
        "missed": selectors.missed_rows(missed_page.object_list),
        "investments": selectors.investment_rows(investments[:INVESTMENT_EVENTS_SHOWN]),
        "investments_more": len(investments) > INVESTMENT_EVENTS_SHOWN,
        "settlements_page": settlements_page,
        "settlements": fees_selectors.settlement_rows(settlements_page.object_list),
    }


def _figures_context(copy: Copy) -> dict:
    """The figures card (polled): the figures, the stop-loss state and, once stopped, what
    returned to the main account."""
    return {
        "copy": copy,
        "row": selectors.copy_row(copy),
        "returned": None if copy.is_active else selectors.copy_stop_returned(copy=copy),
        "action_label": action_label(copy.stop_loss_action, copy.market),
    }


@require_GET
@login_required
def copy_detail(request, copy_id: int):
    copy = _own_copy(request, copy_id)
    return render(request, "copies/detail.html", _detail_context(request, copy))


@require_GET
@login_required
def copy_detail_figures(request, copy_id: int):
    """The copy's figures alone (polled)."""
    copy = _own_copy(request, copy_id)
    return render(request, "copies/detail.html#copy-figures", _figures_context(copy))


@require_GET
@login_required
def copy_detail_positions(request, copy_id: int):
    """The open positions table alone (polled); open "why this size" disclosures stay open."""
    copy = _own_copy(request, copy_id)
    return render(request, "copies/detail.html#open-positions", {"copy": copy, **_open_rows(copy)})


@require_http_methods(["GET", "POST"])
@login_required
def copy_position_close(request, copy_id: int, position_id: int):
    """Close one copied position by hand: a confirmation page, then the POST."""
    copy = _own_copy(request, copy_id)
    detail_url = reverse("copy_detail", args=[copy.pk])
    error = None
    if request.method == "POST":
        try:
            answer, replayed = idempotent_form(
                request,
                scope="page:copy-position-close",
                payload={"copy": copy.pk, "position": position_id},
                run=lambda: _close_position(request, copy, position_id, detail_url),
            )
        except NotFound:  # closed meanwhile (by the lead, a stop, another tab): nothing to do
            messages.info(request, "That position is no longer open: nothing was closed.")
            return _done(request, detail_url)
        except ApplicationError as exc:
            error = exc.message
        else:
            if not replayed:
                messages.success(request, answer["message"])
            return _done(request, answer["redirect"])
    try:
        estimate = selectors.copy_position_close_estimate(copy=copy, position_id=position_id)
    except NotFound:
        raise Http404("No such open position in this copy.") from None
    spot = estimate.position.margin_mode == "spot"
    return render(
        request,
        "copies/holding_sell.html" if spot else "copies/position_close.html",
        {"copy": copy, "estimate": estimate, "key": form_key(), "error": error},
    )


def _close_position(request, copy: Copy, position_id: int, detail_url: str) -> dict:
    pos = services.copy_position_close(copy=copy, position=position_id, user=request.user)
    if pos.margin_mode == "spot":
        sale = pos.fills.order_by("-id").first()  # exit_price averages earlier sells in
        return {
            "redirect": detail_url,
            "message": (
                f"Sold your {pos.instrument.base_asset} at {fmt_amount(sale.price)} USDT. "
                "The USDT stays in this copy."
            ),
        }
    return {
        "redirect": detail_url,
        "message": (
            f"Closed {pos.instrument.name} {pos.get_side_display().lower()} at "
            f"{fmt_amount(pos.exit_price)} USDT. Its funds stay in this copy."
        ),
    }


# --- Settings ---------------------------------------------------------------------------------
def _settings_context(request, copy: Copy, **forms) -> dict:
    row = selectors.copy_row(copy)
    stop_loss_initial = {
        "total_stop_loss": fmt_amount(copy.total_stop_loss) if copy.total_stop_loss else "",
        "stop_loss_unit": "usdt",
        "stop_loss_action": copy.stop_loss_action,
    }
    return {
        "copy": copy,
        "row": row,
        "limits": selectors.copy_modify_limits(copy=copy, figures=row.figures, user=request.user),
        "modify_form": forms.get("modify_form") or ModifyForm(),
        "modify_key": form_key(),
        "stop_loss_form": forms.get("stop_loss_form")
        or StopLossForm(initial=stop_loss_initial, market=copy.market),
        "level": {"level": row.stop_loss} if row.stop_loss else None,
        "level_url": reverse("copy_stop_loss_level"),
    }


@require_GET
@login_required
def copy_settings(request, copy_id: int):
    copy = _own_copy(request, copy_id)
    return render(request, "copies/settings.html", _settings_context(request, copy))


@require_POST
@login_required
def copy_investment(request, copy_id: int):
    """Settings: Modify Total Investment (moves money: idempotent)."""
    copy = _own_copy(request, copy_id)
    form = ModifyForm(request.POST)
    if form.is_valid():
        value = form.cleaned_data["total_investment"]
        try:
            answer, replayed = idempotent_form(
                request,
                scope="page:copy-investment",
                payload={"copy": copy.pk, "total_investment": value},
                run=lambda: _modify(request, copy, value),
            )
        except ApplicationError as exc:
            service_error(form, exc, field_map=INVESTMENT_FIELDS)
        else:
            if not replayed:
                messages.success(request, answer["message"])
            return _done(request, answer["redirect"])
    copy.refresh_from_db()
    context = _settings_context(request, copy, modify_form=form)
    if request.htmx:
        return render(request, "copies/settings.html#modify-form", context)
    return render(request, "copies/settings.html", context)


def _modify(request, copy: Copy, value: str) -> dict:
    before = copy.total_investment
    changed = services.copy_investment_modify(copy=copy, user=request.user, total_investment=value)
    new = changed.total_investment
    if new == before:
        message = f"Your Total Investment is already {fmt_usdt(new)} USDT: nothing moved."
    elif new > before:
        message = (
            f"Total Investment increased to {fmt_usdt(new)} USDT: {fmt_amount(new - before)} "
            "USDT moved from your main account into this copy."
        )
    else:
        message = (
            f"Total Investment decreased to {fmt_usdt(new)} USDT: {fmt_amount(before - new)} "
            "USDT returned to your main account."
        )
    return {"redirect": reverse("copy_settings", args=[copy.pk]), "message": message}


@require_POST
@login_required
def copy_stop_loss(request, copy_id: int):
    """Settings: Total Stop Loss for Trader and its action (Save). Moves no money."""
    copy = _own_copy(request, copy_id)
    form = StopLossForm(request.POST, market=copy.market)
    if form.is_valid():
        cd = form.cleaned_data
        try:
            amount = services.copy_stop_loss_amount(
                total_investment=copy.total_investment,
                value=cd["total_stop_loss"],
                unit=cd["stop_loss_unit"],
            )
            services.copy_settings_update(
                copy=copy,
                user=request.user,
                total_stop_loss=amount,
                stop_loss_action=cd["stop_loss_action"],
            )
        except ApplicationError as exc:
            service_error(form, exc, field_map=STOP_LOSS_FIELDS)
        else:
            if amount is None:
                messages.success(request, "Saved: no Total Stop Loss for Trader.")
            else:
                messages.success(
                    request, f"Saved: Total Stop Loss for Trader {fmt_amount(amount)} USDT."
                )
            return _done(request, reverse("copy_settings", args=[copy.pk]))
    context = _settings_context(request, copy, stop_loss_form=form)
    if request.htmx:
        return render(request, "copies/settings.html#stop-loss-form", context)
    return render(request, "copies/settings.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def copy_stop(request, copy_id: int):
    """Stop copying: a confirmation page with what happens to each position and the money,
    then the POST (moves money: idempotent)."""
    copy = _own_copy(request, copy_id)
    detail_url = reverse("copy_detail", args=[copy.pk])
    error = None
    if request.method == "POST":
        try:
            answer, replayed = idempotent_form(
                request,
                scope="page:copy-stop",
                payload={"copy": copy.pk},
                run=lambda: _stop(request, copy, detail_url),
            )
        except ApplicationError as exc:
            error = exc.message
        else:
            if not replayed:
                messages.success(request, answer["message"])
            return _done(request, answer["redirect"])
        copy.refresh_from_db()
    context = {"copy": copy, "key": form_key(), "error": error}
    if copy.is_active:
        context["estimate"] = selectors.copy_stop_estimate(copy=copy)
    return render(request, "copies/stop.html", context)


def _stop(request, copy: Copy, detail_url: str) -> dict:
    stopped = services.copy_stop(copy=copy, user=request.user)
    returned = selectors.copy_stop_returned(copy=stopped)
    return {
        "redirect": detail_url,
        "message": (
            f"You stopped copying {stopped.lead.nickname}: {fmt_usdt(returned)} USDT returned "
            "to your main account."
        ),
    }


# --- the copy wizard --------------------------------------------------------------------------
MARKET_WORDS = {
    Copy.Market.FUTURES: (
        "USDT perpetual swaps. Every position they open is mirrored at the same share of "
        "equity, with their leverage and margin mode; Copy Ongoing Positions can open what they "
        "hold now."
    ),
    Copy.Market.SPOT: (
        "BTC, ETH and SOL bought with USDT, no leverage. Every buy is mirrored at the same share "
        "of equity and every sell at the same fraction of what you copied; Buy Existing Assets "
        "can buy what they hold now."
    ),
}


def _wizard_lead(request):
    try:
        return trader_get(trader_id=request.GET.get("trader"))
    except NotFound:
        raise Http404("No such lead trader.") from None


def _asked_market(request) -> str | None:
    market = request.GET.get("market")
    return market if market in Copy.Market.values else None


def _draft_load(request, lead) -> dict | None:
    try:
        draft = signing.loads(
            request.POST.get("draft", ""), salt=WIZARD_SALT, max_age=DRAFT_MAX_AGE
        )
    except signing.BadSignature:
        return None
    if not isinstance(draft, dict) or draft.get("trader") != lead.pk:
        return None
    if draft.get("market") not in Copy.Market.values:
        return None
    return draft


def _draft_sign(draft: dict) -> str:
    return signing.dumps(draft, salt=WIZARD_SALT)


def _trader_refusal(user, lead, market: str) -> ApplicationError | None:
    try:
        services.copy_start_check(follower=user, lead=lead, market=market)
    except ApplicationError as exc:
        return exc
    return None


def _existing(user, lead, market: str) -> Copy | None:
    """The follower's active copy of this lead in this market (a duplicate's Settings link)."""
    return (
        selectors.copy_list_for_user(user=user, status=Copy.Status.ACTIVE)
        .filter(lead=lead, market=market)
        .first()
    )


def _preview(user, lead, investment, ongoing: bool, market: str):
    """The engine's preview for a typed amount, or None while it is not a valid amount."""
    try:
        req = services.copy_request_validate(total_investment=investment)
    except ApplicationError:
        return None
    return selectors.copy_start_preview(
        user=user,
        lead=lead,
        investment=req.investment,
        copy_ongoing_positions=ongoing,
        market=market,
    )


def _wizard_url(lead, market: str | None) -> str:
    url = f"{reverse('copy_new')}?trader={lead.pk}"
    return f"{url}&market={market}" if market else url


def _wizard_render(request, lead, step: str, draft: dict, **context):
    steps = ((MARKET_STEP,) if draft.get("choice") else ()) + STEPS
    keys = [k for k, _ in steps]
    market = draft.get("market")
    base = {
        "lead": lead,
        "step": step,
        "steps": [
            {"key": key, "title": title, "done": i < keys.index(step)}
            for i, (key, title) in enumerate(steps)
        ],
        "draft": draft,
        "draft_signed": _draft_sign(draft),
        "market": market,
        "spot": market == Copy.Market.SPOT,
        "market_label": Copy.Market(market).label if market else "",
        "main_available": selectors.main_available(user=request.user),
        "minimum": settings.SMART_SYNC["MIN_INVESTMENT"],
        "wizard_url": _wizard_url(lead, market),
        "choose_url": _wizard_url(lead, None) if draft.get("choice") else "",
    }
    base.update(context)
    template = "copies/wizard.html"
    if request.htmx and request.method == "POST":
        template += "#wizard"
    return render(request, template, base)


def _market_step(request, lead, markets: list[str]):
    """Futures or Spot, for a lead who leads both: each with what it copies and, where the
    follower cannot start it (a copy of that market already, ...), why."""
    options = []
    for market in markets:
        refusal = _trader_refusal(request.user, lead, market)
        existing = None
        if refusal is not None and refusal.code == "duplicate_copy":
            existing = _existing(request.user, lead, market)
        options.append(
            {
                "value": market,
                "label": Copy.Market(market).label,
                "words": MARKET_WORDS[market],
                "refusal": refusal,
                "existing": existing,
            }
        )
    draft = {"trader": lead.pk, "market": None, "choice": True}
    open_ones = [o for o in options if o["refusal"] is None]
    if not open_ones:  # nothing to choose: say why, as for a single market
        first = options[0]
        return _wizard_render(
            request,
            lead,
            "market",
            draft,
            refusal=first["refusal"],
            existing=first["existing"],
            refused_market=first["label"] if first["existing"] else "",
        )
    return _wizard_render(
        request,
        lead,
        "market",
        draft,
        options=options,
        checked=open_ones[0]["value"],
        choose_action=reverse("copy_new"),
    )


def _investment_step(request, lead, draft: dict, form=None, short: bool = False):
    market = draft["market"]
    if form is None:
        form = InvestmentForm(
            initial={
                "total_investment": draft.get("total_investment", ""),
                "copy_ongoing_positions": draft.get("copy_ongoing_positions", False),
            },
            market=market,
        )
    typed = form["total_investment"].value() or ""
    ongoing = (
        form["copy_ongoing_positions"].value()
        if form.is_bound
        else draft.get("copy_ongoing_positions", False)
    )
    return _wizard_render(
        request,
        lead,
        "investment",
        draft,
        form=form,
        short=short,
        preview=_preview(request.user, lead, typed, bool(ongoing), market),
        ongoing=bool(ongoing),
        preview_url=reverse("copy_new_preview"),
    )


def _stop_loss_step(request, lead, draft: dict, form=None):
    if form is None:
        form = StopLossForm(
            initial={
                "total_stop_loss": draft.get("total_stop_loss", ""),
                "stop_loss_unit": draft.get("stop_loss_unit", "usdt"),
                "stop_loss_action": draft.get("stop_loss_action", Copy.StopLossAction.CLOSE_ALL),
            },
            market=draft["market"],
        )
    level = None
    typed = form["total_stop_loss"].value()
    if typed:
        level = _level_for(
            draft["total_investment"], typed, form["stop_loss_unit"].value() or "usdt"
        )
    return _wizard_render(
        request,
        lead,
        "stop_loss",
        draft,
        form=form,
        level=level,
        level_url=reverse("copy_stop_loss_level"),
    )


def _level_for(investment, value: str, unit: str) -> dict:
    """{"level": StopLossLevel} or {"error": message} for a typed stop loss."""
    try:
        amount = services.copy_stop_loss_amount(total_investment=investment, value=value, unit=unit)
        req = services.copy_request_validate(total_investment=investment, total_stop_loss=amount)
    except ApplicationError as exc:
        return {"error": exc.message}
    return {
        "level": selectors.stop_loss_level(
            total_investment=req.investment, total_stop_loss=req.stop_loss
        )
    }


def _review_step(request, lead, draft: dict, error: ApplicationError | None = None):
    try:
        req = services.copy_request_validate(
            market=draft["market"],
            total_investment=draft["total_investment"],
            total_stop_loss=draft.get("stop_loss_amount") or None,
            stop_loss_action=draft.get("stop_loss_action"),
        )
    except ApplicationError as exc:  # a rule changed since step 2: start from step 1 again
        form = InvestmentForm(
            {
                "total_investment": draft.get("total_investment", ""),
                "copy_ongoing_positions": draft.get("copy_ongoing_positions") or "",
            },
            market=draft["market"],
        )
        form.is_valid()
        service_error(form, exc, field_map=INVESTMENT_FIELDS)
        return _investment_step(request, lead, draft, form=form)
    return _wizard_render(
        request,
        lead,
        "review",
        draft,
        preview=selectors.copy_start_preview(
            user=request.user,
            lead=lead,
            investment=req.investment,
            copy_ongoing_positions=draft["copy_ongoing_positions"],
            market=draft["market"],
        ),
        level=selectors.stop_loss_level(
            total_investment=req.investment, total_stop_loss=req.stop_loss
        ),
        action_label=action_label(req.stop_loss_action, draft["market"]),
        key=form_key(),
        error=error,
    )


@require_http_methods(["GET", "POST"])
@login_required
def copy_new(request):
    """The copy wizard (SPEC §5.1, §6): the market where the lead leads both -> Total Investment
    and Copy Ongoing Positions (spot: Buy Existing Assets) -> Total Stop Loss for Trader and its
    action -> review -> confirm."""
    if not request.GET.get("trader"):
        messages.info(request, "Choose a lead trader to copy, then select Copy on their profile.")
        return redirect("trader_list")
    lead = _wizard_lead(request)
    if request.method == "GET":
        return _wizard_start(request, lead)

    step = request.POST.get("step")
    draft = _draft_load(request, lead)
    if draft is None:
        messages.warning(request, "That form was out of date; please start again.")
        return _wizard_start(request, lead)
    if step == "investment":
        return _wizard_investment(request, lead, draft)
    if step == "stop_loss" and "total_investment" in draft:
        return _wizard_stop_loss(request, lead, draft)
    if step == "review" and "stop_loss_amount" in draft:
        return _wizard_confirm(request, lead, draft)
    return _investment_step(request, lead, draft)


def _wizard_start(request, lead):
    """The wizard's first page: the market choice where the lead leads both (and none was
    asked for), else Total Investment, or why this follower cannot copy that market now."""
    led = lead_markets(lead=lead)
    market = _asked_market(request) or (led[0] if len(led) == 1 else None)
    if market is None and len(led) > 1:
        return _market_step(request, lead, led)
    market = market or Copy.Market.FUTURES  # a lead who has not traded yet: futures
    draft = {"trader": lead.pk, "market": market, "choice": len(led) > 1}
    refusal = _trader_refusal(request.user, lead, market)
    if refusal is not None:
        existing = None
        if refusal.code == "duplicate_copy":
            existing = _existing(request.user, lead, market)
        return _wizard_render(
            request,
            lead,
            "investment",
            draft,
            refusal=refusal,
            existing=existing,
            refused_market=Copy.Market(market).label if existing else "",
        )
    return _investment_step(request, lead, draft)


def _wizard_investment(request, lead, draft: dict):
    form = InvestmentForm(request.POST, market=draft["market"])
    if not form.is_valid():
        return _investment_step(request, lead, draft, form=form)
    typed = form.cleaned_data["total_investment"]
    try:
        req = services.copy_start_check(
            follower=request.user, lead=lead, market=draft["market"], total_investment=typed
        )
    except ApplicationError as exc:
        service_error(form, exc, field_map=INVESTMENT_FIELDS)
        short = exc.code == "insufficient_funds"
        return _investment_step(request, lead, draft, form=form, short=short)
    draft = {
        **{k: v for k, v in draft.items() if k != "stop_loss_amount"},  # step 2 decides again
        "total_investment": typed,
        "investment": str(req.investment),
        "copy_ongoing_positions": form.cleaned_data["copy_ongoing_positions"],
    }
    return _stop_loss_step(request, lead, draft)


def _wizard_stop_loss(request, lead, draft: dict):
    form = StopLossForm(request.POST, market=draft["market"])
    if "back" in request.POST:
        typed = {
            k: request.POST.get(k, "")
            for k in ("total_stop_loss", "stop_loss_unit", "stop_loss_action")
        }
        kept = {k: v for k, v in draft.items() if k != "stop_loss_amount"}
        return _investment_step(request, lead, {**kept, **typed})
    if not form.is_valid():
        return _stop_loss_step(request, lead, draft, form=form)
    cd = form.cleaned_data
    try:
        amount = services.copy_stop_loss_amount(
            total_investment=draft["total_investment"],
            value=cd["total_stop_loss"],
            unit=cd["stop_loss_unit"],
        )
        services.copy_start_check(
            follower=request.user,
            lead=lead,
            market=draft["market"],
            total_investment=draft["total_investment"],
            total_stop_loss=amount,
            stop_loss_action=cd["stop_loss_action"],
        )
    except ApplicationError as exc:
        service_error(form, exc, field_map=STOP_LOSS_FIELDS)
        return _stop_loss_step(request, lead, draft, form=form)
    draft = {
        **draft,
        "total_stop_loss": cd["total_stop_loss"],
        "stop_loss_unit": cd["stop_loss_unit"],
        "stop_loss_action": cd["stop_loss_action"],
        "stop_loss_amount": "" if amount is None else str(amount),
    }
    return _review_step(request, lead, draft)


def _wizard_confirm(request, lead, draft: dict):
    if "back" in request.POST:
        return _stop_loss_step(request, lead, draft)
    try:
        answer, replayed = idempotent_form(
            request,
            scope="page:copy-start",
            payload=draft,
            run=lambda: _start(request, lead, draft),
        )
    except ApplicationError as exc:
        return _review_step(request, lead, draft, error=exc)
    if not replayed:
        messages.success(request, answer["message"])
    return _done(request, answer["redirect"])


def _start(request, lead, draft: dict) -> dict:
    copy = services.copy_start(
        follower=request.user,
        lead=lead.pk,
        market=draft["market"],
        total_investment=draft["total_investment"],
        copy_ongoing_positions=draft["copy_ongoing_positions"],
        total_stop_loss=draft.get("stop_loss_amount") or None,
        stop_loss_action=draft["stop_loss_action"],
    )
    if copy.market == Copy.Market.SPOT:
        message = (
            f"You are now copying {lead.nickname}'s spot trades with "
            f"{fmt_usdt(copy.total_investment)} USDT. Every buy they make is mirrored at the "
            "same share of equity, every sell at the same fraction."
        )
    else:
        message = (
            f"You are now copying {lead.nickname} with {fmt_usdt(copy.total_investment)} USDT. "
            "Every position they open is mirrored at the same share of equity."
        )
    return {"redirect": reverse("copy_detail", args=[copy.pk]), "message": message}


@require_GET
@login_required
def copy_new_preview(request):
    """The wizard's live preview of Copy Ongoing Positions (spot: Buy Existing Assets) for the
    typed Total Investment."""
    lead = _wizard_lead(request)
    market = _asked_market(request) or Copy.Market.FUTURES
    typed = request.GET.get("total_investment", "")
    ongoing = bool(request.GET.get("copy_ongoing_positions"))
    return render(
        request,
        "copies/wizard.html#ongoing-preview",
        {
            "lead": lead,
            "market": market,
            "spot": market == Copy.Market.SPOT,
            "preview": _preview(request.user, lead, typed, ongoing, market),
            "ongoing": ongoing,
            "minimum": settings.SMART_SYNC["MIN_INVESTMENT"],
            "preview_url": reverse("copy_new_preview"),
        },
    )


@require_GET
@login_required
def copy_stop_loss_level(request):
    """The live "your copy stops when ..." line for a typed stop loss: in the wizard (the
    Total Investment comes from the signed draft) or in Settings (from the copy)."""
    investment = None
    if request.GET.get("copy"):
        copy = _own_copy(request, request.GET["copy"])
        investment = copy.total_investment
    else:
        lead = _wizard_lead(request)
        try:
            draft = signing.loads(
                request.GET.get("draft", ""), salt=WIZARD_SALT, max_age=DRAFT_MAX_AGE
            )
        except signing.BadSignature:
            draft = None
        if isinstance(draft, dict) and draft.get("trader") == lead.pk:
            investment = draft.get("total_investment")
    typed = request.GET.get("total_stop_loss", "")
    level = None
    if investment is not None and typed:
        level = _level_for(investment, typed, request.GET.get("stop_loss_unit") or "usdt")
    return render(
        request,
        "copies/_stop_loss_fields.html#stop-loss-level",
        {
            "level": level,
            "level_url": reverse("copy_stop_loss_level"),
            "copy": {"pk": request.GET["copy"]} if request.GET.get("copy") else None,
            "lead": {"pk": request.GET.get("trader")},
        },
    )
