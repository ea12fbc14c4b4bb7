"""Services and selectors of accounts: user_create, tokens, notifications."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail

from apps.accounts import selectors, services
from apps.accounts.models import Notification, User
from apps.core.exceptions import ApplicationError
from tests.factories.accounts import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_user_create_normalises_email_and_adds_allauth_address():
    # when
    user = services.user_create(email="  Alice@Example.COM ", password=PASSWORD)
    # then
    assert user.email == "alice@example.com"
    assert user.check_password(PASSWORD)
    assert not user.is_staff
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.primary, address.verified) == ("alice@example.com", True, False)


def test_user_create_duplicate_email_is_refused_case_insensitively():
    # given
    services.user_create(email="bob@example.com", password=PASSWORD)
    # when
    with pytest.raises(ApplicationError) as exc:
        services.user_create(email="BOB@example.com", password=PASSWORD)
    # then
    assert exc.value.code == "email_taken"
    assert "email" in exc.value.fields
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    "password",
    ["short", "12345678901", "password123", "carol@example.com"],
    ids=["too-short", "numeric", "common", "similar-to-email"],
)
def test_user_create_weak_password_is_refused_and_creates_nothing(password):
    with pytest.raises(ApplicationError) as exc:
        services.user_create(email="carol@example.com", password=password)
    assert exc.value.code == "invalid_password"
    assert exc.value.fields["password"]
    assert not User.objects.exists()
    assert not EmailAddress.objects.exists()


def test_user_create_invalid_email_is_refused():
    with pytest.raises(ApplicationError) as exc:
        services.user_create(email="not-an-email", password=PASSWORD)
    assert exc.value.code == "invalid_email"
    assert "email" in exc.value.fields
    assert not User.objects.exists()


def test_auth_token_obtain_returns_the_same_token_each_time():
    user = UserFactory()
    first = services.auth_token_obtain(email=user.email.upper(), password=PASSWORD)
    assert first == services.auth_token_obtain(email=user.email, password=PASSWORD)


@pytest.mark.parametrize("email,password", [("user@x.com", "wrong"), ("nobody@x.com", PASSWORD)])
def test_auth_token_obtain_bad_credentials_give_one_message(email, password):
    UserFactory(email="user@x.com")
    with pytest.raises(ApplicationError) as exc:
        services.auth_token_obtain(email=email, password=password)
    assert exc.value.message == services.BAD_CREDENTIALS


def test_auth_token_obtain_inactive_user_is_refused_like_a_wrong_password():
    user = UserFactory(is_active=False)
    with pytest.raises(ApplicationError) as exc:
        services.auth_token_obtain(email=user.email, password=PASSWORD)
    assert exc.value.message == services.BAD_CREDENTIALS


def test_auth_token_obtain_requires_verified_email_when_verification_is_mandatory(settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    services.user_create(email="dora@example.com", password=PASSWORD)
    with pytest.raises(ApplicationError) as exc:
        services.auth_token_obtain(email="dora@example.com", password=PASSWORD)
    assert exc.value.code == "email_unverified"


def test_notification_create_sends_an_email_after_commit(django_capture_on_commit_callbacks):
    # given
    user = UserFactory()
    # when
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notification = services.notification_create(
            user=user,
            kind=Notification.Kind.COPY_STARTED,
            message="You started copying Alpha with 1,000 USDT.",
            data={"copy_id": 7},
        )
        # then: nothing leaves before the commit
        assert len(mail.outbox) == 0
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [user.email]
    assert "Copy started" in sent.subject
    assert "1,000 USDT" in sent.body
    notification.refresh_from_db()
    assert notification.data == {"copy_id": 7}
    assert notification.emailed_at is not None
    assert not notification.read


def test_notification_create_mail_failure_does_not_break_the_caller(
    django_capture_on_commit_callbacks, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    user = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        notification = services.notification_create(user=user, kind="info", message="hi")
    notification.refresh_from_db()
    assert notification.emailed_at is None  # left for the batch mailer


def test_notification_create_unknown_kind_is_refused():
    with pytest.raises(ApplicationError):
        services.notification_create(user=UserFactory(), kind="nope", message="x")


def test_notifications_create_bulk_writes_rows_without_email(
    django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    # given
    users = UserFactory.create_batch(30)
    rows = [
        (u.pk, "missed_copy", "Missed: price moved beyond slippage tolerance", {"e": 1})
        for u in users
    ]
    # when: set-based, not a query per follower
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(3):
        created = services.notifications_create_bulk(rows=rows)
    # then
    assert created == 30
    assert Notification.objects.filter(kind="missed_copy", emailed_at__isnull=True).count() == 30
    assert mail.outbox == []


def test_notifications_email_pending_sends_one_digest_per_user():
    a, b = UserFactory(), UserFactory()
    services.notifications_create_bulk(
        rows=[(a.pk, "info", "one", {}), (a.pk, "info", "two", {}), (b.pk, "info", "three", {})]
    )
    assert services.notifications_email_pending() == 3
    assert sorted(m.to[0] for m in mail.outbox) == sorted([a.email, b.email])
    digest_a = next(m for m in mail.outbox if m.to == [a.email])
    assert "one" in digest_a.body and "two" in digest_a.body
    # a second run finds nothing left
    assert services.notifications_email_pending() == 0
    assert len(mail.outbox) == 2


def test_notifications_mark_read_all_or_some_and_only_own():
    # given
    me, other = UserFactory(), UserFactory()
    mine = [services.notification_create(user=me, kind="info", message=str(i)) for i in range(3)]
    theirs = services.notification_create(user=other, kind="info", message="x")
    # when: only some, including somebody else's id
    updated = services.notifications_mark_read(user=me, ids=[mine[0].pk, theirs.pk])
    # then
    assert updated == 1
    theirs.refresh_from_db()
    assert not theirs.read
    assert selectors.notification_unread_count(user=me) == 2
    # when: all
    assert services.notifications_mark_read(user=me) == 2
    assert selectors.notification_unread_count(user=me) == 0
    assert services.notifications_mark_read(user=me) == 0


def test_notification_list_is_own_newest_first_and_filters_unread():
    me, other = UserFactory(), UserFactory()
    first = services.notification_create(user=me, kind="info", message="first")
    second = services.notification_create(user=me, kind="info", message="second")
    services.notification_create(user=other, kind="info", message="not mine")
    services.notifications_mark_read(user=me, ids=[first.pk])
    assert list(selectors.notification_list(user=me)) == [second, first]
    assert list(selectors.notification_list(user=me, unread_only=True)) == [second]


def test_user_email_address_ensure_follows_an_email_change():
    user = services.user_create(email="old@example.com", password=PASSWORD)
    user.email = "new@example.com"
    user.save()
    services.user_email_address_ensure(user=user)
    primary = EmailAddress.objects.get(user=user, primary=True)
    assert primary.email == "new@example.com"
