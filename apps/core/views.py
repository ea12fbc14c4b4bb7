"""Site plumbing: the health check and /favicon.ico.

The 404 and 500 pages are templates/404.html and templates/500.html, rendered by Django's error
views (config/urls.py routes /api/ errors to the API's JSON shape instead).
"""

from functools import cache

from django.contrib.staticfiles import finders
from django.db import connection
from django.http import HttpResponse, JsonResponse


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


@cache
def _favicon() -> bytes:
    with open(finders.find("favicon.ico"), "rb") as f:
        return f.read()


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page links; pages link static/favicon.svg."""
    response = HttpResponse(_favicon(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
