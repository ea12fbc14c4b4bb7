"""API plumbing shared by every app: the error shape, pagination, money fields.

Every error leaves as ``{"detail": str, "code": str, "fields": {name: message}}`` with a 4xx.
Every list answers one page, ``{count, next, previous, results: [...]}``; views that paginate by
hand describe it with ``paginated(ItemSerializer)`` and ``PAGE_PARAMETERS`` so the schema says
what the answer really is (a page number past the end is a 404).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError
from django.http import Http404, JsonResponse
from django.views.defaults import bad_request, page_not_found, server_error
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.exceptions import ApplicationError
from apps.core.money import MAX_DIGITS, USDT_PLACES


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500


PAGE_PARAMETERS = [
    OpenApiParameter(
        "page", int, required=False, description="A page number (from 1); past the last: 404."
    ),
    OpenApiParameter(
        "page_size",
        int,
        required=False,
        description=f"Items per page, at most {Pagination.max_page_size}.",
    ),
]

_pages: dict[type, type[serializers.Serializer]] = {}


def paginated(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """The schema of one page of ``item``s, as ``Pagination`` answers it (for ``extend_schema``
    of an APIView that paginates by hand; generic list views get the same from drf-spectacular).
    One class per item serializer, so the component ``Paginated<Item>List`` is defined once."""
    if item not in _pages:
        name = item.__name__.removesuffix("Serializer")
        _pages[item] = type(
            f"Paginated{name}ListSerializer",
            (serializers.Serializer,),
            {
                "count": serializers.IntegerField(help_text="Items on all pages."),
                "next": serializers.URLField(allow_null=True, help_text="null on the last page."),
                "previous": serializers.URLField(
                    allow_null=True, help_text="null on the first page."
                ),
                "results": item(many=True),
                "__module__": item.__module__,
            },
        )
    return _pages[item]


def _flatten(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_flatten(v)}" for k, v in detail.items())
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, OverflowError | DataError):
        # An id or number too large for the database column (e.g. /copies/99999999999999999999/):
        # the input is bad, not the server.
        return Response(
            {
                "detail": "A number in the request is out of range.",
                "code": "out_of_range",
                "fields": {},
            },
            status=400,
        )
    if isinstance(exc, ApplicationError):
        return Response(
            {"detail": exc.message, "code": exc.code, "fields": exc.fields},
            status=exc.status_code,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = {}
        detail = exc.detail
        if isinstance(detail, dict):
            for name, messages in detail.items():
                fields[name] = _flatten(messages)
            non_field = fields.pop("non_field_errors", None)
            message = non_field or "; ".join(f"{k}: {v}" for k, v in fields.items())
        else:
            message = _flatten(detail)
        response.data = {"detail": message or "Invalid input.", "code": "invalid", "fields": fields}
    else:
        detail = getattr(exc, "detail", str(exc))
        code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
        response.data = {"detail": _flatten(detail), "code": str(code), "fields": {}}
    return response


# Django's own error views (config/urls.py handler400/404/500) answer under /api/ in the API's
# error shape, as the schema documents: a URL that matches no route (``/copies/abc/``), a body
# Django refuses before DRF sees it (too many form fields), a crash. Pages keep Django's pages.
def _api_error(request, status: int, detail: str, code: str) -> JsonResponse | None:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail, "code": code, "fields": {}}, status=status)
    return None


def bad_request_view(request, exception):
    response = _api_error(request, 400, "Bad request.", "bad_request")
    return response if response is not None else bad_request(request, exception)


def not_found_view(request, exception):
    response = _api_error(request, 404, "Not found.", "not_found")
    return response if response is not None else page_not_found(request, exception)


def server_error_view(request):
    response = _api_error(request, 500, "Server error. Please try again later.", "server_error")
    return response if response is not None else server_error(request)


class MoneyField(serializers.DecimalField):
    """USDT in and out as a decimal string with 8 places; accepts strings or numbers."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", MAX_DIGITS)
        kwargs.setdefault("decimal_places", USDT_PLACES)
        kwargs.setdefault("coerce_to_string", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        text = super().to_representation(value)
        # a tiny negative uPnL quantizes to "-0.00000000": zero has no sign
        return (
            text[1:]
            if isinstance(text, str) and text.startswith("-") and not text.strip("-0.")
            else text
        )


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    fields = serializers.DictField(child=serializers.CharField())
