"""Ledger admin: read-only views of accounts, entries and postings.

Operators never edit money here. The writes go through the ledger services, like the API:
"Reverse selected entries" calls ``ledger_reverse`` (a new, balanced reversal entry per selected
entry), and a main account's "Deposit or withdraw" page (also linked from each user's page) calls ``deposit_credit`` /
``withdrawal_record`` with an idempotency key minted when the form is shown, so a double click
or a resubmitted form books the movement once.

Entries and postings are the biggest tables: their lists never count or scan the whole table
(apps/core/admin_lists.py), and no list or detail page makes a query per row (an entry of a
lead event mirrored to 1,000 copies shows its 1,000 postings with their accounts in one query).
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from apps.core.admin_lists import BigListMixin
from apps.core.exceptions import ApplicationError
from apps.core.money import fmt_usdt
from apps.ledger.models import Account, JournalEntry, Posting
from apps.ledger.services import account_main, deposit_credit, ledger_reverse, withdrawal_record


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BalanceFilter(admin.SimpleListFilter):
    title = "balance"
    parameter_name = "balance"

    def lookups(self, request, model_admin):
        return [("positive", "Holds money (> 0)"), ("zero", "Zero"), ("negative", "Negative")]

    def queryset(self, request, queryset):
        lookup = {"positive": "balance__gt", "zero": "balance", "negative": "balance__lt"}
        if self.value() in lookup:
            return queryset.filter(**{lookup[self.value()]: 0})
        return queryset


class MovementForm(forms.Form):
    direction = forms.ChoiceField(
        choices=[("deposit", "Deposit (money in)"), ("withdrawal", "Withdrawal (money out)")],
        widget=forms.RadioSelect,
    )
    amount = forms.CharField(label="Amount (USDT)", max_length=40)
    key = forms.CharField(widget=forms.HiddenInput)


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("code", "kind", "owner", "balance", "created_at")
    list_filter = ("kind", BalanceFilter)
    search_fields = ("code", "owner__email", "=id")
    list_select_related = ("owner",)
    date_hierarchy = "created_at"
    readonly_fields = ("code", "kind", "owner", "balance", "created_at")
    change_form_template = "admin/ledger/account/change_form.html"
    actions = ["money_movement"]

    def has_movement_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("ledger.add_journalentry")

    def get_urls(self):
        view = self.admin_site.admin_view(self.movement_view)
        for_user = self.admin_site.admin_view(self.user_movement_view)
        return [
            path("<int:account_id>/movement/", view, name="ledger_account_movement"),
            path("user/<int:user_id>/movement/", for_user, name="ledger_user_movement"),
            *super().get_urls(),
        ]

    def user_movement_view(self, request, user_id: int):
        """The user page's "Deposit or withdraw": a user who just signed up has no main account
        yet (it is made on first use), so it is made here, then the account's page opens."""
        if not self.has_movement_permission(request):
            raise PermissionDenied
        user = get_object_or_404(get_user_model(), pk=user_id)
        return redirect("admin:ledger_account_movement", account_id=account_main(user=user).pk)

    @admin.action(description="Deposit or withdraw for the owner", permissions=["movement"])
    def money_movement(self, request, queryset):
        mains = list(queryset.filter(kind=Account.Kind.MAIN)[:2])
        if len(mains) != 1 or queryset.count() != 1:
            self.message_user(
                request, "Select exactly one main account to deposit to or withdraw from.",
                messages.ERROR,
            )  # fmt: skip
            return None
        return redirect("admin:ledger_account_movement", account_id=mains[0].pk)

    def movement_view(self, request, account_id: int):
        if not self.has_movement_permission(request):
            raise PermissionDenied
        account = get_object_or_404(Account, pk=account_id, kind=Account.Kind.MAIN)
        if request.method == "POST":
            form = MovementForm(request.POST)
            if form.is_valid() and self._move(request, form, account):
                return redirect("admin:ledger_account_change", account.pk)
        else:
            form = MovementForm(initial={"direction": "deposit", "key": uuid.uuid4().hex})
        context = {
            **self.admin_site.each_context(request),
            "title": f"Deposit or withdraw: {account.owner}",
            "account": account,
            "balance": fmt_usdt(account.balance),
            "form": form,
            "opts": self.model._meta,
            "back": reverse("admin:ledger_account_change", args=[account.pk]),
        }
        return TemplateResponse(request, "admin/ledger/account/movement.html", context)

    def _move(self, request, form: MovementForm, account: Account) -> bool:
        data = form.cleaned_data
        service = deposit_credit if data["direction"] == "deposit" else withdrawal_record
        try:
            entry = service(
                user=account.owner,
                amount=data["amount"],
                key=f"admin-{data['direction']}:{data['key']}",
                operator=request.user,
            )
        except ApplicationError as exc:
            form.add_error("amount", exc.fields.get("amount") or exc.message)
            return False
        account.refresh_from_db()
        # what was booked (the typed text may read "5,000"), never the raw input
        booked = abs(entry.postings.get(account_id=account.pk).amount)
        self.message_user(
            request,
            f"{entry.get_kind_display()} of {fmt_usdt(booked)} USDT booked for "
            f"{account.owner} (entry #{entry.pk}); main balance now {fmt_usdt(account.balance)} USDT.",
            messages.SUCCESS,
        )
        return True


class PostingInline(admin.TabularInline):
    model = Posting
    fields = ("account", "amount")
    readonly_fields = ("account", "amount")
    extra = 0
    max_num = 0
    can_delete = False

    def get_queryset(self, request):
        # the account of every posting in the same query (a mirror entry has one per copy)
        return super().get_queryset(request).select_related("account")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JournalEntry)
class JournalEntryAdmin(BigListMixin, ReadOnlyAdmin):
    list_display = ("id", "idempotency_key", "kind", "memo", "reverses", "created_at")
    list_filter = ("kind",)
    search_fields = ("idempotency_key", "memo", "=id")
    list_select_related = ("reverses",)
    date_hierarchy = "created_at"
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
class PostingAdmin(BigListMixin, ReadOnlyAdmin):
    list_display = ("id", "entry", "entry_kind", "account", "owner", "amount", "booked_at")
    list_filter = ("entry__kind", "account__kind")
    search_fields = (
        "account__code",
        "account__owner__email",
        "entry__idempotency_key",
        "=entry__id",
    )
    list_select_related = ("entry", "account__owner")
    readonly_fields = ("entry", "account", "amount")

    @admin.display(description="kind", ordering="entry__kind")
    def entry_kind(self, obj: Posting) -> str:
        return obj.entry.get_kind_display()

    @admin.display(description="owner")
    def owner(self, obj: Posting):
        return obj.account.owner or "platform"

    @admin.display(description="booked at", ordering="entry__created_at")
    def booked_at(self, obj: Posting):
        return obj.entry.created_at
