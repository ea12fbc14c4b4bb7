"""Notification pages (htmx). Views parse input and call services/selectors; no logic here."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import selectors, services

PAGE_SIZE = 25


def _list_context(request) -> dict:
    paginator = Paginator(selectors.notification_list(user=request.user), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return {
        "page_obj": page,
        "notifications": page.object_list,
        "unread_notifications": selectors.notification_unread_count(user=request.user),
    }


@require_GET
@login_required
def notification_list(request):
    template = "accounts/notifications.html"
    if request.htmx:
        template += "#notification-list"
    return render(request, template, _list_context(request))


@require_POST
@login_required
def notification_mark_read(request):
    services.notifications_mark_read(user=request.user)
    if request.htmx:
        # The partial also swaps the nav badge out-of-band, so the count drops to zero too.
        return render(
            request, "accounts/notifications.html#notification-list", _list_context(request)
        )
    return redirect("notification_list")
