"""/api/v1/ itself (its own module: apps/core/api.py is loaded by DRF's settings, before its views)."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


class ApiIndexOutputSerializer(serializers.Serializer):
    docs = serializers.URLField(help_text="The browsable documentation (Swagger UI).")
    schema = serializers.URLField(help_text="The OpenAPI schema of this API.")
    token = serializers.URLField(help_text="POST e-mail and password here for a token.")
    traders = serializers.URLField(help_text="The lead-trader directory (public).")
    prices = serializers.URLField(help_text="Current prices (public).")


class ApiIndexApi(APIView):
    """/api/v1/ itself: where the contract and the first public resources are (no 404 at the door)."""

    permission_classes = [AllowAny]

    @extend_schema(
        summary="Where to start: the docs, the schema, a token, the public lists",
        tags=["accounts"],
        responses=ApiIndexOutputSerializer,
        auth=[],
    )
    def get(self, request):
        names = {
            "docs": "api-docs",
            "schema": "api-schema",
            "token": "api:auth-token",
            "traders": "api:trader-list",
            "prices": "api:price-list",
        }
        return Response({key: request.build_absolute_uri(reverse(n)) for key, n in names.items()})
