"""Lead traders admin.

- Adding a lead trader goes through ``lead_trader_approve`` (it creates the lead futures and
  spot accounts): the add page is a small form of its own, not a model form, and a refusal
  comes back as form errors.
- "End strategy" calls ``lead_trader_end`` (every copy is stopped by mirroring).
- Editing may change only bio, max copiers and the profit share ratio; a new ratio applies to
  copies started afterwards (running copies keep their snapshot).
No path here moves money.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.urls import reverse

from apps.core.exceptions import ApplicationError
from apps.traders.models import LeadTrader
from apps.traders.services import MAX_PROFIT_SHARE, lead_trader_approve, lead_trader_end

RATIO_HELP = (
    "Share of copiers' net realized profit, 0 to 0.30 (e.g. 0.10 = 10%). A change applies to "
    "copies started afterwards only: running copies keep the ratio they started with."
)


class LeadTraderApproveForm(forms.Form):
    email = forms.EmailField(help_text="The e-mail of an existing user.")
    nickname = forms.CharField(max_length=40)
    profit_share_ratio = forms.DecimalField(
        min_value=0,
        max_value=MAX_PROFIT_SHARE,
        decimal_places=8,
        initial="0.10",
        help_text=RATIO_HELP,
    )
    max_copiers = forms.IntegerField(
        min_value=1, required=False, help_text="Empty: the platform default."
    )
    bio = forms.CharField(widget=forms.Textarea, required=False)


class LeadTraderChangeForm(forms.ModelForm):
    class Meta:
        model = LeadTrader
        fields = ("bio", "max_copiers", "profit_share_ratio")
        help_texts = {"profit_share_ratio": RATIO_HELP}


@admin.register(LeadTrader)
class LeadTraderAdmin(admin.ModelAdmin):
    form = LeadTraderChangeForm
    list_display = (
        "nickname",
        "user",
        "status",
        "profit_share_ratio",
        "copiers",
        "max_copiers",
        "approved_at",
        "ended_at",
    )
    list_filter = ("status",)
    search_fields = ("nickname", "user__email")
    list_select_related = ("user",)
    actions = ["end_strategy"]
    fields = (
        "user",
        "nickname",
        "status",
        "bio",
        "max_copiers",
        "profit_share_ratio",
        "futures_account",
        "spot_account",
        "approved_at",
        "approved_by",
        "ended_at",
    )
    readonly_fields = (
        "user",
        "nickname",
        "status",
        "futures_account",
        "spot_account",
        "approved_at",
        "approved_by",
        "ended_at",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                # counted through the reverse relation: traders (the record layer) does not
                # import copies, which sits above it
                _copiers=Count(
                    "copies", filter=Q(copies__status="active", copies__market="futures")
                )
            )
        )

    @admin.display(description="copiers", ordering="_copiers")
    def copiers(self, obj):
        return obj._copiers

    def has_delete_permission(self, request, obj=None):
        return False

    def add_view(self, request, form_url="", extra_context=None):
        # Not the model form: the service creates the lead accounts with the row, in its own
        # durable transaction (so no surrounding atomic block either).
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = LeadTraderApproveForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                lead = lead_trader_approve(
                    email=data["email"],
                    nickname=data["nickname"],
                    profit_share_ratio=data["profit_share_ratio"],
                    max_copiers=data["max_copiers"],
                    bio=data["bio"],
                    operator=request.user,
                )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                for name, message in exc.fields.items():
                    if name in form.fields:
                        form.add_error(name, message)
            else:
                self.log_addition(request, lead, [{"added": {}}])
                self.message_user(
                    request, f"{lead.nickname} is now a lead trader.", messages.SUCCESS
                )
                return redirect(reverse("admin:traders_leadtrader_change", args=[lead.pk]))
        fieldsets = [(None, {"fields": list(form.fields)})]
        admin_form = helpers.AdminForm(form, fieldsets, {}, model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": "Approve a lead trader",
            "subtitle": None,
            "adminform": admin_form,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=True, form_url=form_url)

    def has_end_permission(self, request) -> bool:
        return request.user.is_superuser or request.user.has_perm("traders.change_leadtrader")

    @admin.action(description="End strategy (stops every copy)", permissions=["end"])
    def end_strategy(self, request, queryset):
        for lead in queryset.order_by("id"):
            try:
                lead_trader_end(lead=lead, actor=request.user)
            except ApplicationError as exc:
                self.message_user(
                    request, f"{lead.nickname} not ended: {exc.message}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"{lead.nickname} ended; their copies are being stopped.",
                    messages.SUCCESS,
                )
