"""Ledger API: the caller's wallet; operators credit deposits and record withdrawals.

Views only parse input and call a selector or service. Operator endpoints are ``is_staff``
only; they accept an optional ``idempotency_key`` so a retried request moves money once (the
retry gets 201 with the same entry; the same key with another amount gets 409).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.idempotency import idempotent_post
from apps.core.api import ErrorSerializer, MoneyField
from apps.core.exceptions import ApplicationError
from apps.ledger import selectors, services

AUTH_ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}
OPERATOR_ERRORS = {400: ErrorSerializer, 409: ErrorSerializer, **AUTH_ERRORS}


class WalletSerializer(serializers.Serializer):
    balance_usdt = MoneyField(help_text="Main account balance.")
    available_usdt = MoneyField(help_text="Free to start copies or withdraw (= main balance).")
    in_copies_usdt = MoneyField(help_text="Sum of the balances of your copy accounts.")
    in_lead_accounts_usdt = MoneyField(help_text="Lead futures + lead spot account balances.")


class OperatorMovementInputSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    amount_usdt = MoneyField(help_text="Greater than zero, at most 8 decimal places.")
    idempotency_key = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=False,
        help_text="Optional. A retry with the same key moves the money only once.",
    )

    def validate_amount_usdt(self, value):
        if value <= 0:
            raise serializers.ValidationError("Amount must be greater than zero.")
        return value


class OperatorMovementOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="Journal entry id.")
    kind = serializers.CharField()
    idempotency_key = serializers.CharField()
    email = serializers.EmailField()
    amount_usdt = MoneyField()
    balance_usdt = MoneyField(help_text="The user's main balance after the movement.")
    created_at = serializers.DateTimeField()


class WalletApi(APIView):
    @extend_schema(
        operation_id="wallet_get",
        tags=["ledger"],
        responses={200: WalletSerializer, **AUTH_ERRORS},
        summary="Your money: main balance, available, in copies, in lead accounts",
    )
    def get(self, request):
        return Response(WalletSerializer(selectors.wallet_get(user=request.user)).data)


class _OperatorMovementApi(APIView):
    permission_classes = [IsAdminUser]
    service = None  # set by subclasses
    key_prefix = ""

    def post(self, request):
        data = OperatorMovementInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        email = data.validated_data["email"].strip().lower()
        user = get_user_model().objects.filter(email__iexact=email).first()
        if user is None:
            raise ApplicationError(
                "No user with this e-mail address.",
                code="unknown_user",
                fields={"email": "No user with this e-mail address."},
            )
        key = data.validated_data.get("idempotency_key")
        amount = data.validated_data["amount_usdt"]
        entry = self.service(
            user=user,
            amount=amount,
            key=f"{self.key_prefix}:{key}" if key else None,
            operator=request.user,
        )
        wallet = selectors.wallet_get(user=user)
        out = {
            "id": entry.pk,
            "kind": entry.kind,
            "idempotency_key": entry.idempotency_key,
            "email": user.email,
            "amount_usdt": amount,
            "balance_usdt": wallet["balance_usdt"],
            "created_at": entry.created_at,
        }
        return Response(OperatorMovementOutputSerializer(out).data, status=status.HTTP_201_CREATED)


class OperatorDepositApi(_OperatorMovementApi):
    service = staticmethod(services.deposit_credit)
    key_prefix = "deposit"

    @extend_schema(
        operation_id="operator_deposit_create",
        tags=["operator"],
        request=OperatorMovementInputSerializer,
        responses={201: OperatorMovementOutputSerializer, **OPERATOR_ERRORS},
        summary="Credit a deposit to a user's main account (staff only)",
    )
    @idempotent_post
    def post(self, request):
        return super().post(request)


class OperatorWithdrawalApi(_OperatorMovementApi):
    service = staticmethod(services.withdrawal_record)
    key_prefix = "withdrawal"

    @extend_schema(
        operation_id="operator_withdrawal_create",
        tags=["operator"],
        request=OperatorMovementInputSerializer,
        responses={201: OperatorMovementOutputSerializer, **OPERATOR_ERRORS},
        summary="Record a withdrawal from a user's main account (staff only)",
        description="400 with code `insufficient_funds` when the main balance is short.",
    )
    @idempotent_post
    def post(self, request):
        return super().post(request)
