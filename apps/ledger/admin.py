"""Ledger admin: read-only views of accounts, entries and postings.

Operators never edit money here. The only write is the "Reverse selected entries" action,
which calls ``ledger_reverse`` (a new, balanced reversal entry per selected entry).
"""

from __future__ import annotations

from django.contrib import admin, messages

from apps.core.exceptions import ApplicationError
from apps.ledger.models import Account, JournalEntry, Posting
from apps.ledger.services import ledger_reverse


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "owner", "balance", "created_at")
    list_filter = ("kind",)
    search_fields = ("code", "owner__email")
    list_select_related = ("owner",)
    readonly_fields = ("code", "kind", "owner", "balance", "created_at")


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ("account", "amount")
    readonly_fields = ("account", "amount")
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "idempotency_key", "kind", "memo", "reverses", "created_at")
    list_filter = ("kind",)
    search_fields = ("idempotency_key", "memo")
    readonly_fields = ("idempotency_key", "kind", "memo", "reverses", "created_at")
    inlines = [PostingInline]
    actions = ["reverse_entries"]

    def has_reverse_permission(self, request) -> bool:
        # Posting a correction is creating an entry: superusers or staff granted that right.
        return request.user.is_superuser or request.user.has_perm("ledger.add_journalentry")

    @admin.action(description="Reverse selected entries", permissions=["reverse"])
    def reverse_entries(self, request, queryset):
        # One reversal (and one durable transaction) per entry: one refusal must not undo
        # the others, and each outcome is reported on its own.
        for entry in queryset.order_by("id"):
            try:
                reversal = ledger_reverse(
                    entry=entry, memo=f"Reversal of entry #{entry.pk} by {request.user}"
                )
            except ApplicationError as exc:
                self.message_user(
                    request, f"Entry #{entry.pk} not reversed: {exc.message}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"Entry #{entry.pk} reversed by entry #{reversal.pk}.",
                    messages.SUCCESS,
                )


@admin.register(Posting)
class PostingAdmin(ReadOnlyAdmin):
    list_display = ("id", "entry", "account", "amount")
    search_fields = ("account__code", "entry__idempotency_key")
    list_select_related = ("entry", "account")
    readonly_fields = ("entry", "account", "amount")
