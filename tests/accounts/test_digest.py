from django.core import mail
from django_celery_beat.models import PeriodicTask

from apps.accounts.models import Notification
from apps.accounts.services import notifications_create_bulk
from apps.accounts.tasks import notifications_email_digest
from tests.factories.accounts import UserFactory


def test_bulk_notices_are_emailed_once_as_one_digest_per_user(db):
    # given two users with notices written in bulk (no e-mail at write time)
    a, b = UserFactory(), UserFactory()
    notifications_create_bulk(
        rows=[
            (a.pk, "missed_copy", "Missed copy one", {}),
            (a.pk, "missed_copy", "Missed copy two", {}),
            (b.pk, "lead_ended", "Lead ended", {}),
        ]
    )
    assert mail.outbox == []
    # when the digest task runs twice
    assert notifications_email_digest() == 3
    assert notifications_email_digest() == 0
    # then each user got exactly one e-mail listing their notices
    assert sorted(m.to[0] for m in mail.outbox) == sorted([a.email, b.email])
    body_a = next(m.body for m in mail.outbox if m.to == [a.email])
    assert "Missed copy one" in body_a and "Missed copy two" in body_a
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()


def test_digest_schedule_exists_after_migrate(db):
    task = PeriodicTask.objects.get(name="E-mail notification digests")
    assert task.task == "apps.accounts.tasks.notifications_email_digest" and task.enabled
