"""Writes for users and notifications.

Invariants:
- An e-mail address is stored lower-case, belongs to at most one user (unique constraint, so two
  concurrent sign-ups with one address produce one user and one ``email_taken`` refusal), and every
  user made here also has its allauth ``EmailAddress`` row (primary, unverified) so that the web
  login, password reset and verification flows treat API-registered users like web sign-ups.
- A refused registration creates nothing: all rows are written in one transaction.
- A notification's e-mail copy leaves only after the notification is committed (a rolled-back
  copy start never e-mails "copy started"), and a mail failure never breaks the caller.
- Bulk fan-out (one lead event to thousands of followers) writes rows only; their e-mails are
  batched later by ``notifications_email_pending`` (one digest per user) so a fan-out never
  waits on SMTP.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.accounts.models import Notification, User
from apps.core.bulk import bulk_insert
from apps.core.exceptions import ApplicationError

logger = logging.getLogger(__name__)

BAD_CREDENTIALS = "Unable to log in with the provided e-mail and password."


def email_normalize(email: str) -> str:
    return (email or "").strip().lower()


def user_create(*, email: str, password: str) -> User:
    """Register a user with e-mail and password.

    Raises ``ApplicationError`` with ``fields.email`` (invalid / ``email_taken``) or
    ``fields.password`` (every failed password validator message). Idempotency: the unique
    e-mail; a concurrent duplicate loses on the constraint and gets ``email_taken``.
    """
    email = email_normalize(email)
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError(
            "Enter a valid e-mail address.",
            code="invalid_email",
            fields={"email": "Enter a valid e-mail address."},
        ) from None

    taken = ApplicationError(
        "An account with this e-mail address already exists.",
        code="email_taken",
        fields={"email": "An account with this e-mail address already exists."},
    )
    # allauth may hold addresses that are not any user's login e-mail (secondary addresses).
    if (
        User.objects.filter(email__iexact=email).exists()
        or EmailAddress.objects.filter(email__iexact=email).exists()
    ):
        raise taken

    # Validate against an unsaved user so the similarity validator can compare with the e-mail.
    try:
        password_validation.validate_password(password, user=User(email=email))
    except ValidationError as exc:
        message = " ".join(exc.messages)
        raise ApplicationError(
            message, code="invalid_password", fields={"password": message}
        ) from None

    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password)
            EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    except IntegrityError:
        # Lost a race with a concurrent sign-up for the same address.
        raise taken from None
    return user


def user_email_address_ensure(*, user: User) -> EmailAddress:
    """Give a user made or edited outside ``user_create`` (admin) its primary allauth row for
    ``user.email``, so password reset and verification keep working after an admin edit."""
    address, _ = EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"primary": False, "verified": False}
    )
    if not address.primary:
        address.set_as_primary(conditional=False)
    return address


def auth_token_obtain(*, email: str, password: str, request: HttpRequest | None = None) -> str:
    """Return the user's API token (created on first use).

    Unknown e-mail, wrong password and inactive user all get the same message, and Django's
    ModelBackend hashes a dummy password for unknown users, so neither the answer nor its
    timing tells whether an address is registered.
    """
    user = authenticate(request, email=email_normalize(email), password=password or "")
    if user is None:
        raise ApplicationError(BAD_CREDENTIALS, code="invalid_credentials")
    if (
        settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"
        and not EmailAddress.objects.filter(user=user, verified=True).exists()
    ):
        # Safe to say: only someone who knows the password gets this far.
        raise ApplicationError(
            "Verify your e-mail address first: follow the link we sent you.",
            code="email_unverified",
        )
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def _notification_email(*, notification_id: int) -> None:
    notification = Notification.objects.select_related("user").filter(pk=notification_id).first()
    if notification is None or notification.emailed_at is not None:
        return
    sent = send_mail(
        subject=f"Smart Sync: {notification.get_kind_display()}",
        message=notification.message,
        from_email=None,
        recipient_list=[notification.user.email],
        fail_silently=True,
    )
    if sent:
        Notification.objects.filter(pk=notification.pk).update(emailed_at=timezone.now())
    else:
        # Left NULL: the batch mailer retries it.
        logger.warning("notification %s e-mail not sent", notification.pk)


def notification_create(
    *, user: User, kind: str, message: str, data: dict | None = None
) -> Notification:
    """Store an in-app notification and e-mail it once the surrounding transaction commits."""
    if kind not in Notification.Kind.values:
        raise ApplicationError(f"Unknown notification kind {kind!r}.", code="invalid_kind")
    notification = Notification.objects.create(
        user=user, kind=kind, message=message, data=data or {}
    )
    transaction.on_commit(lambda: _notification_email(notification_id=notification.pk))
    return notification


def notifications_create_bulk(*, rows: Sequence[tuple[int, str, str, dict]]) -> int:
    """Fan one notice out to many users: ``rows`` are ``(user_id, kind, message, data)``.

    One INSERT statement (apps.core.bulk), never a query per user. No e-mail here: rows keep
    ``emailed_at`` NULL and ``notifications_email_pending`` sends them as digests later.
    Returns the number of notifications written.
    """
    valid = set(Notification.Kind.values)
    out = []
    for user_id, kind, message, data in rows:
        if kind not in valid:
            raise ApplicationError(f"Unknown notification kind {kind!r}.", code="invalid_kind")
        out.append({"user_id": user_id, "kind": kind, "message": message, "data": data or {}})
    bulk_insert(Notification, out, returning=None)
    return len(out)


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark the user's unread notifications read (all, or only ``ids``); returns how many changed.

    Other users' ids are silently ignored: the filter is always scoped to ``user``.
    """
    qs = Notification.objects.filter(user=user, read=False)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read=True)


def notifications_email_pending(*, limit: int = 5000) -> int:
    """E-mail the backlog (bulk notices, failed sends) as one digest per user.

    Meant for a periodic task. Rows are claimed by setting ``emailed_at`` before sending, so two
    overlapping runs do not e-mail the same row twice (at-most-once: a crash mid-send loses a
    digest, never duplicates it; the in-app notice is the record). Returns the rows covered.
    """
    with transaction.atomic():
        pending = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(emailed_at__isnull=True)
            .order_by("id")
            .values_list("id", "user_id", "message")[:limit]
        )
        if not pending:
            return 0
        Notification.objects.filter(pk__in=[p[0] for p in pending]).update(
            emailed_at=timezone.now()
        )
    by_user: dict[int, list[str]] = defaultdict(list)
    for _, user_id, message in pending:
        by_user[user_id].append(message)
    emails = dict(User.objects.filter(pk__in=by_user).values_list("pk", "email"))
    for user_id, messages in by_user.items():
        send_mail(
            subject=f"Smart Sync: {len(messages)} new notification(s)",
            message="\n\n".join(f"- {m}" for m in messages),
            from_email=None,
            recipient_list=[emails[user_id]],
            fail_silently=True,
        )
    return len(pending)
