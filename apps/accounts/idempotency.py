"""Idempotent money-moving requests: the same ``Idempotency-Key`` and the same body return the
first answer; the same key with another body (or another endpoint) is a 409; nothing moves twice.

Every money-moving POST of the API (``idempotent_post``) and every money-moving form of the
pages (``idempotent``, with a key minted when the form is rendered) goes through here.

How (docs/decisions/0007-failure-states-and-idempotent-requests.md):
- ``idempotent`` opens the request's durable transaction (apps.core.transactions), locks or
  creates the ``IdempotencyRecord(user, key)`` row FIRST (level 1 of apps.core.locks), runs the
  service inside the same transaction, and stores the answer on the record before commit. The
  effect and the record of its answer commit together: after a crash there is either both or
  neither, so a retry either replays the answer or does the work for the first time.
- Two concurrent requests with one key serialize on the record's unique index / row lock; the
  second waits, then replays the first's answer.
- A refused request (4xx ApplicationError) rolls back, record included: the same key can be used
  again once the person fixed the problem (e.g. after a deposit).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from functools import wraps

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from apps.accounts.models import IdempotencyRecord
from apps.core.exceptions import ApplicationError, Conflict
from apps.core.transactions import request_transaction

HEADER = "Idempotency-Key"
MAX_KEY = IdempotencyRecord._meta.get_field("key").max_length
SCHEMA_PARAMETER = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="Optional, recommended: a unique key (e.g. a UUID) per intended request. The "
    "same key with the same body returns the first answer (header `Idempotency-Replayed: "
    "true`) and moves nothing again; the same key with another body or endpoint is a 409.",
)


def fingerprint(payload: object) -> str:
    """sha256 of a canonical JSON form of the request body."""
    text = json.dumps(payload, sort_keys=True, cls=DjangoJSONEncoder, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def key_validate(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise ApplicationError(
            f"The {HEADER} header must be 1 to {MAX_KEY} printable characters (a UUID is ideal).",
            code="invalid_idempotency_key",
            fields={HEADER: f"1 to {MAX_KEY} printable characters."},
        )
    return key


def _record_lock(*, user, key: str, scope: str, print_: str) -> tuple[IdempotencyRecord, bool]:
    try:
        return IdempotencyRecord.objects.select_for_update().get_or_create(
            user=user, key=key, defaults={"scope": scope, "fingerprint": print_}
        )
    except IntegrityError:  # lost a race on the insert: the winner has committed by now
        return IdempotencyRecord.objects.select_for_update().get(user=user, key=key), False


def idempotent(
    *, user, key: str, scope: str, payload: object, run: Callable[[], tuple[int, dict]]
) -> tuple[int, dict, bool]:
    """Run ``run`` (which calls one money service and returns ``(status, body)``) at most once per
    (user, key). Returns ``(status, body, replayed)``."""
    key = key_validate(key)
    print_ = fingerprint(payload)
    with request_transaction():
        record, created = _record_lock(user=user, key=key, scope=scope, print_=print_)
        if not created:
            if (record.scope, record.fingerprint) != (scope, print_):
                raise Conflict(
                    f"This {HEADER} was already used for a different request "
                    f"({record.scope}). Use a new key for a new request.",
                    code="idempotency_key_reused",
                )
            return record.status, json.loads(record.body), True
        status, body = run()
        record.status, record.body = status, json.dumps(body, cls=DjangoJSONEncoder)
        record.save(update_fields=["status", "body"])
    return status, body, False


class _Refused(Exception):
    def __init__(self, response):
        super().__init__(response.status_code)
        self.response = response


FORM_FIELD = "idempotency_key"


def form_key() -> str:
    """A fresh key for a money-moving form, minted when the form is rendered (hidden field
    ``idempotency_key``): a double click or a browser resubmit sends the same key again."""
    return uuid.uuid4().hex


def idempotent_form(
    request, *, scope: str, payload: object, run: Callable[[], dict]
) -> tuple[dict, bool]:
    """A money-moving form's POST through ``idempotent``: ``run`` calls one service and returns
    what the page needs afterwards (e.g. ``{"redirect": url}``), stored as the first answer.
    Returns ``(answer, replayed)``. A refusal (ApplicationError) propagates to the view, which
    shows it on the form; nothing is recorded then."""
    key = request.POST.get(FORM_FIELD, "")
    if not key:
        raise ApplicationError(
            "This form is out of date: reload the page and try again.",
            code="invalid_idempotency_key",
        )

    def wrapped() -> tuple[int, dict]:
        return 200, run()

    _, body, replayed = idempotent(
        user=request.user, key=f"form:{key}", scope=scope, payload=payload, run=wrapped
    )
    return body, replayed


def _payload(request) -> object:
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form or multipart body)
        return {k: v for k, v in data.lists()}
    return data


def idempotent_post(method):
    """Decorate an APIView's ``post``: with an ``Idempotency-Key`` header the call runs through
    ``idempotent``; a replay answers the first status and body with ``Idempotency-Replayed:
    true``. Without the header the view runs as before."""

    @wraps(method)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return method(self, request, *args, **kwargs)

        def run() -> tuple[int, dict]:
            response = method(self, request, *args, **kwargs)
            if response.status_code >= 400:
                raise _Refused(response)  # roll back: a refusal records nothing
            return response.status_code, response.data

        try:
            status, body, replayed = idempotent(
                user=request.user,
                key=key,
                scope=f"{request.method} {request.path}",
                payload=_payload(request),
                run=run,
            )
        except _Refused as refused:
            return refused.response
        response = Response(body, status=status)
        if replayed:
            response["Idempotency-Replayed"] = "true"
        return response

    return extend_schema(parameters=[SCHEMA_PARAMETER])(wrapper)
