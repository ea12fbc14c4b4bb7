"""Notification pages (htmx). Views parse input and call services/selectors; no logic here.

The list can show everything or only the unread ones (``?show=unread``), page by page. Marking
read (one notification, ``id``, or all) is a real form: without JavaScript it redirects back to the same
list; with htmx it answers the list partial, which also swaps the nav badge out-of-band so the
unread count in the header drops at once.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from apps.accounts import selectors, services

PAGE_SIZE = 25
LIST_PARTIAL = "accounts/notifications.html#notification-list"


def _view_params(data) -> dict:
    """Which list the person is looking at: ``show`` (all / unread) and ``page``."""
    show = "unread" if data.get("show") == "unread" else "all"
    return {"show": show, "page": data.get("page") or "1"}


def _list_context(request, params: dict) -> dict:
    unread_only = params["show"] == "unread"
    paginator = Paginator(
        selectors.notification_list(user=request.user, unread_only=unread_only), PAGE_SIZE
    )
    page = paginator.get_page(params["page"])
    return {
        "page_obj": page,
        "notifications": page.object_list,
        "show": params["show"],
        "unread_notifications": selectors.notification_unread_count(user=request.user),
    }


def _back(request, params: dict):
    """After marking read: the list partial for htmx, else the same list again (PRG)."""
    if request.htmx:
        return render(request, LIST_PARTIAL, _list_context(request, params))
    query = {k: v for k, v in params.items() if (k, v) not in (("show", "all"), ("page", "1"))}
    url = reverse("notification_list")
    return redirect(f"{url}?{urlencode(query)}" if query else url)


@require_GET
@login_required
def notification_list(request):
    template = "accounts/notifications.html"
    if request.htmx:
        template = LIST_PARTIAL
    return render(request, template, _list_context(request, _view_params(request.GET)))


@require_POST
@login_required
def notification_mark_read(request):
    """Mark all unread notifications read, or only the one named by ``id`` (another user's or
    an unknown id is a 404: nothing changes)."""
    one = request.POST.get("id")
    if one is None:
        services.notifications_mark_read(user=request.user)
    else:
        mine = selectors.notification_list(user=request.user)
        if not one.isdigit() or not mine.filter(pk=int(one)).exists():
            raise Http404("No such notification.")
        services.notifications_mark_read(user=request.user, ids=[int(one)])
    return _back(request, _view_params(request.POST))
