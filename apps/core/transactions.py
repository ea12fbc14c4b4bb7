"""Who owns the durable transaction of a money service.

A top-level money service opens ``money_atomic()``: a durable ``transaction.atomic`` (its
commit is the moment the money has moved), unless it runs inside ``request_transaction()``,
which an idempotent request (apps.accounts.idempotency) opens around the service so that the
service's effect and the record of its answer commit together, or not at all. Then the
request's block is the durable one and the service joins it.

No other code should open a durable block around a service: ``request_transaction`` is for the
idempotency layer only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

_in_request: ContextVar[bool] = ContextVar("money_request_transaction", default=False)


@contextmanager
def request_transaction() -> Iterator[None]:
    with transaction.atomic(durable=True):
        token = _in_request.set(True)
        try:
            yield
        finally:
            _in_request.reset(token)


def money_atomic():
    """The transaction of a top-level money service: durable on its own, joined (savepoint)
    when an idempotent request already holds the durable transaction."""
    return transaction.atomic(durable=not _in_request.get())
