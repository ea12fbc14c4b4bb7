"""Accounts API: register, obtain a token, read and acknowledge notifications.

Views only parse input and call a service or selector. Register and token are anonymous and
ignore session cookies, so a logged-in browser tab cannot turn them into a CSRF target. Both are
throttled in the shared cache (apps/core/throttling.py): register per IP (scope ``register``),
token per IP (``token``, every request) and per normalised e-mail (``token_account``, failed
attempts only). Notifications are always the caller's own.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts import selectors, services
from apps.accounts.models import Notification
from apps.core import throttling
from apps.core.api import ErrorSerializer

ERRORS = {400: ErrorSerializer, 429: ErrorSerializer}
AUTH_ERRORS = {401: ErrorSerializer, 403: ErrorSerializer}


class CredentialsSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(
        max_length=128, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )


class RegisterOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField()


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "kind", "message", "created_at", "read"]


class MarkReadInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=1000,
        help_text="Notifications to mark read; omit to mark all of yours read.",
    )


class MarkReadOutputSerializer(serializers.Serializer):
    updated = serializers.IntegerField()


TOO_MANY_FAILURES = "Too many failed sign-in attempts for this e-mail address."


class _AnonymousAuthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class RegisterApi(_AnonymousAuthView):
    throttle_classes = [throttling.RegisterThrottle]

    @extend_schema(
        operation_id="auth_register",
        tags=["accounts"],
        request=CredentialsSerializer,
        responses={201: RegisterOutputSerializer, **ERRORS},
        summary="Create an account with e-mail and password",
        description="Limit: 20 requests an hour per IP; over it the answer is 429 with "
        "`Retry-After` (seconds).",
    )
    def post(self, request):
        data = CredentialsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_create(**data.validated_data)
        return Response(
            RegisterOutputSerializer({"id": user.pk, "email": user.email}).data,
            status=status.HTTP_201_CREATED,
        )


class TokenApi(_AnonymousAuthView):
    throttle_classes = [throttling.TokenThrottle]

    @extend_schema(
        operation_id="auth_token",
        tags=["accounts"],
        request=CredentialsSerializer,
        responses={200: TokenOutputSerializer, **ERRORS},
        summary="Exchange e-mail and password for an API token",
        description="Send it as `Authorization: Token <token>`. Limits: 30 requests a minute "
        "per IP, and 10 failed attempts per e-mail address in any 15 minutes; over a limit the "
        "answer is 429 with `Retry-After` (seconds).",
    )
    def post(self, request):
        data = CredentialsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with throttling.failed_attempts_limited(
            scope="token_account",
            ident=services.email_normalize(data.validated_data["email"]),
            message=TOO_MANY_FAILURES,
        ):
            token = services.auth_token_obtain(**data.validated_data, request=request)
        return Response(TokenOutputSerializer({"token": token}).data)


class NotificationListApi(generics.ListAPIView):
    serializer_class = NotificationSerializer

    @extend_schema(
        operation_id="notifications_list",
        tags=["accounts"],
        parameters=[
            OpenApiParameter("unread", OpenApiTypes.BOOL, description="Only unread notifications.")
        ],
        responses={200: NotificationSerializer(many=True), 404: ErrorSerializer, **AUTH_ERRORS},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        unread = self.request.query_params.get("unread", "").lower() in {"1", "true", "yes"}
        return selectors.notification_list(user=self.request.user, unread_only=unread)


class NotificationMarkReadApi(APIView):
    @extend_schema(
        operation_id="notifications_mark_read",
        tags=["accounts"],
        request=MarkReadInputSerializer,
        responses={200: MarkReadOutputSerializer, **ERRORS, **AUTH_ERRORS},
    )
    def post(self, request):
        data = MarkReadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        updated = services.notifications_mark_read(
            user=request.user, ids=data.validated_data.get("ids")
        )
        return Response(MarkReadOutputSerializer({"updated": updated}).data)
