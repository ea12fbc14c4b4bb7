"""Admin for users (e-mail login, no username anywhere) and notifications.

Notifications are read-only here: each one records what happened to someone's money (a copy
started, a fill missed, a profit share paid) as the services wrote it, so an operator may read
and search them but never rewrite, add or delete one.

API tokens are listed without their key: whoever reads a key can call the API as its user, so
an operator sees who holds a token and since when, and may revoke one (delete), nothing else.
DRF's own token admin, which shows every key, is unregistered.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin as DrfTokenAdmin
from rest_framework.authtoken.models import TokenProxy

from apps.accounts import services
from apps.accounts.models import ApiToken, Notification, User


class UserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)
        field_classes: dict = {}

    def clean_email(self):
        email = services.email_normalize(self.cleaned_data["email"])
        # E-mails are stored lower-case; catch "A@x.com" vs "a@x.com" before the constraint does.
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this e-mail address already exists.")
        return email


class UserChangeForm(DjangoUserChangeForm):
    class Meta:
        model = User
        fields = "__all__"
        field_classes: dict = {}


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    list_display = ("email", "is_staff", "is_active", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email",)
    ordering = ("email",)
    date_hierarchy = "date_joined"
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("first_name", "last_name")}),
        (
            _("Permissions"),
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        # Users made here need allauth's address row too (password reset, verification).
        services.user_email_address_ensure(user=obj)


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "kind", "short_message", "read", "created_at", "emailed_at")
    list_filter = ("kind", "read")
    search_fields = ("user__email", "message")
    list_select_related = ("user",)
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="message")
    def short_message(self, obj: Notification) -> str:
        return obj.message if len(obj.message) <= 80 else obj.message[:79] + "…"


if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(ApiToken)
class TokenAdmin(DrfTokenAdmin):
    """DRF's admin (its links and lookups go by the user's id, not the key; no bulk actions,
    whose checkboxes would carry the key) without the key column."""

    list_display = ("user", "created")
    fields = ("user", "created")
    readonly_fields = ("user", "created")
    search_fields = ("user__email",)
    search_help_text = "E-mail"
    list_select_related = ("user",)
    ordering = ("-created",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
