"""Factories for users. Every user can log in with ``PASSWORD`` (API token or allauth)."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from apps.accounts.models import Notification, User

PASSWORD = "pw-12345-Secure"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password(PASSWORD)
    is_staff = False
    is_active = True


class StaffFactory(UserFactory):
    email = factory.Sequence(lambda n: f"staff{n}@example.com")
    is_staff = True


class NotificationFactory(DjangoModelFactory):
    class Meta:
        model = Notification

    user = factory.SubFactory(UserFactory)
    kind = Notification.Kind.INFO
    message = factory.Sequence(lambda n: f"Notification {n}")
