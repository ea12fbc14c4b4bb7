"""Fees API: operators settle profit share and funding now; a lead trader reads their earnings.

Views only parse input and call a service or selector (apps.fees.services / selectors). The
operator endpoints move money, so they take an ``Idempotency-Key`` (a replay answers the first
result and settles nothing again); without one, running them twice is still safe: a second
funding call finds the slot settled, a second profit-share call pays only what became due since.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.idempotency import idempotent_post
from apps.copies import selectors as copy_selectors
from apps.core.api import PAGE_PARAMETERS, ErrorSerializer, MoneyField, Pagination, paginated
from apps.fees import selectors, services
from apps.fees.models import FundingSettlement, ProfitShareSettlement
from apps.traders.api import IsLeadTrader

AUTH_ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
OPERATOR_ERRORS = {400: ErrorSerializer, 409: ErrorSerializer, **AUTH_ERRORS}


class IsOperator(IsAdminUser):
    message = "Only operators (staff) can do this."


# --- serializers ----------------------------------------------------------------------------
class ProfitShareSettledSerializer(serializers.Serializer):
    settled = serializers.IntegerField(help_text="Active copies settled.")


class FundingRoundSerializer(serializers.Serializer):
    instrument = serializers.CharField()
    slot = serializers.DateTimeField(help_text="The funding time settled (UTC).")
    rate = MoneyField(help_text="Funding rate of the round (per 8 h).")
    mark_usdt = MoneyField(help_text="Mark price the round used.")
    positions = serializers.IntegerField(help_text="Open positions that paid or received.")
    paid_by_users_usdt = MoneyField(help_text="Paid into the funding pool.")
    received_by_users_usdt = MoneyField(help_text="Paid out of the funding pool.")
    shortfall_usdt = MoneyField(help_text="Due but not paid: the payers' balance was short.")
    completed_at = serializers.DateTimeField(allow_null=True)


class FundingSettledSerializer(serializers.Serializer):
    slot = serializers.DateTimeField()
    settled = FundingRoundSerializer(many=True, help_text="Rounds settled by this call.")
    already_settled = FundingRoundSerializer(many=True, help_text="Rounds settled before.")


class SettlementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    trigger = serializers.ChoiceField(choices=ProfitShareSettlement.Trigger.choices)
    realized_usdt = MoneyField(help_text="R: the copy's cumulative net realized PnL then.")
    high_water_before_usdt = MoneyField()
    high_water_after_usdt = MoneyField()
    ratio = MoneyField(help_text="The copy's profit share ratio (a fraction).")
    due_usdt = MoneyField(help_text="Owed before + ratio x max(0, R - mark).")
    share_usdt = MoneyField(help_text="Paid: the copy account -> the lead's main account.")
    owed_after_usdt = MoneyField(
        help_text="Not paid (copy cash short): owed, paid first next time."
    )
    written_off_usdt = MoneyField(help_text="Not paid when the copy stopped: written off.")
    created_at = serializers.DateTimeField()


class CopyEarningsSerializer(serializers.Serializer):
    copy = serializers.IntegerField(help_text="Copy id.")
    status = serializers.CharField()
    started_at = serializers.DateTimeField()
    stopped_at = serializers.DateTimeField(allow_null=True)
    profit_share_ratio = MoneyField()
    paid_usdt = MoneyField(help_text="Profit share this copy paid you, in total.")
    owed_usdt = MoneyField(help_text="Still owed by this copy (active copies only).")
    pending_usdt = MoneyField(help_text="What a settlement now would pay (owed included).")
    settlements = SettlementSerializer(many=True, help_text="Settlements with something due.")


class LeadEarningsPageSerializer(serializers.Serializer):
    total_usdt = MoneyField(help_text="Profit share paid to you by all your copies, ever.")
    owed_usdt = MoneyField(help_text="Still owed to you by active copies.")
    count = serializers.IntegerField(help_text="Copies on all pages.")
    next = serializers.URLField(allow_null=True, help_text="null on the last page.")
    previous = serializers.URLField(allow_null=True, help_text="null on the first page.")
    results = CopyEarningsSerializer(many=True)


def _round_out(r: FundingSettlement) -> dict:
    return {
        "instrument": r.instrument.name,
        "slot": r.slot,
        "rate": r.rate,
        "mark_usdt": r.mark,
        "positions": r.positions,
        "paid_by_users_usdt": r.paid_by_users,
        "received_by_users_usdt": r.received_by_users,
        "shortfall_usdt": r.shortfall,
        "completed_at": r.completed_at,
    }


def settlement_out(s: ProfitShareSettlement) -> dict:
    return {
        "id": s.pk,
        "trigger": s.trigger,
        "realized_usdt": s.realized,
        "high_water_before_usdt": s.high_water_before,
        "high_water_after_usdt": s.high_water_after,
        "ratio": s.ratio,
        "due_usdt": s.due,
        "share_usdt": s.share,
        "owed_after_usdt": s.owed_after,
        "written_off_usdt": selectors.settlement_written_off(s),
        "created_at": s.created_at,
    }


def _earnings_out(row: selectors.CopyEarnings) -> dict:
    c = row.copy
    return {
        "copy": c.pk,
        "status": c.status,
        "started_at": c.started_at,
        "stopped_at": c.stopped_at,
        "profit_share_ratio": c.profit_share_ratio,
        "paid_usdt": row.paid,
        "owed_usdt": row.owed,
        "pending_usdt": row.pending,
        "settlements": [settlement_out(s) for s in row.settlements],
    }


# --- views ----------------------------------------------------------------------------------
class OperatorProfitShareSettleApi(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        operation_id="operator_profit_share_settle",
        tags=["operator"],
        summary="Settle profit share on every active copy now (staff only)",
        description="Each copy pays its lead ratio x the rise of its net realized PnL above its "
        "high-water mark (plus what it owed), as far as its free cash allows; the rest stays "
        "owed. Answers how many copies were settled.",
        request=None,
        responses={200: ProfitShareSettledSerializer, **OPERATOR_ERRORS},
    )
    @idempotent_post
    def post(self, request):
        settled = services.profit_share_settle_active(trigger="operator")
        return Response(ProfitShareSettledSerializer({"settled": settled}).data)


class OperatorFundingSettleApi(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        operation_id="operator_funding_settle",
        tags=["operator"],
        summary="Settle the current funding time now (staff only)",
        description="The latest of 00:00, 08:00 and 16:00 UTC, for every perpetual not yet "
        "settled for it: positions open at that time pay (long, rate > 0) or receive (short) "
        "size x contract value x mark x rate. A perpetual already settled for it is listed "
        "under `already_settled` and nothing moves again.",
        request=None,
        responses={200: FundingSettledSerializer, **OPERATOR_ERRORS},
    )
    @idempotent_post
    def post(self, request):
        run = services.funding_settle()
        body = {
            "slot": run.slot,
            "settled": [_round_out(r) for r in run.settled],
            "already_settled": [_round_out(r) for r in run.already],
        }
        return Response(FundingSettledSerializer(body).data)


class LeadEarningsApi(APIView):
    permission_classes = [IsLeadTrader]
    allow_ended_lead = True  # earnings stay readable after the strategy ended

    @extend_schema(
        operation_id="lead_earnings_get",
        tags=["lead"],
        summary="Your profit-share earnings: in total and per copy",
        description="`total_usdt` is everything your copies paid you. One row per copy (newest "
        "first) with what it paid, still owes and would pay now, and its settlements that had "
        "something due. Copiers are named by copy id only.",
        parameters=PAGE_PARAMETERS,
        responses={200: LeadEarningsPageSerializer, 404: ErrorSerializer, **AUTH_ERRORS},
    )
    def get(self, request):
        lead = request.lead
        totals = selectors.lead_earnings_total(lead=lead)
        paginator = Pagination()
        page = paginator.paginate_queryset(selectors.lead_earning_copies(lead=lead), request, self)
        body = {
            "total_usdt": totals.total,
            "owed_usdt": totals.owed,
            "count": paginator.page.paginator.count,
            "next": paginator.get_next_link(),
            "previous": paginator.get_previous_link(),
            "results": [_earnings_out(r) for r in selectors.earning_rows(page)],
        }
        return Response(LeadEarningsPageSerializer(body).data)


class CopySettlementListApi(APIView):
    @extend_schema(
        operation_id="copy_settlement_list",
        tags=["copies"],
        summary="A copy's profit-share settlements (SPEC §8)",
        description="Each weekly, stop, lead-ended or operator settlement: net realized PnL, the "
        "high-water mark before and after, what was due, paid, owed after, written off.",
        parameters=[*PAGE_PARAMETERS],
        responses={
            200: paginated(SettlementSerializer),
            **{code: ErrorSerializer for code in (400, 401, 403, 404)},
        },
    )
    def get(self, request, copy_id: int):
        copy = copy_selectors.copy_get_for_user(user=request.user, copy_id=copy_id)
        paginator = Pagination()
        page = paginator.paginate_queryset(
            selectors.profit_share_settlements_for_copy(copy=copy), request, view=self
        )
        return paginator.get_paginated_response(
            SettlementSerializer([settlement_out(r) for r in page], many=True).data
        )
