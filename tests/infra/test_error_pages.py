"""What a visitor sees when something is missing or broken: the product's pages, not Django's.

Test settings run with DEBUG off, as `make run` now does (config/settings/local.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import include, path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def boom(request):
    raise RuntimeError("a bug in a view")


# This module doubles as a URLconf for the 500 test: the site's URLs plus one that crashes.
urlpatterns = [path("boom/", boom), path("", include("config.urls"))]


@pytest.mark.django_db
def test_a_missing_page_is_the_products_404():
    response = Client().get("/no-such-page/<b>x</b>/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in page and 'href="/"' in page  # a way back home
    assert "/no-such-page/%3Cb%3Ex%3C/b%3E/" in page and "<b>x" not in page  # the path, quoted
    assert "URLconf" not in page and "Traceback" not in page


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_crash_is_the_products_500_page():
    response = Client(raise_request_exception=False).get("/boom/")
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page and 'href="/"' in page
    assert "a bug in a view" not in page and "Traceback" not in page
    assert "/static/css/app.css" in page  # styled like the site, though rendered bare


@pytest.mark.django_db
def test_favicon_ico_and_the_svg_icon_are_served():
    client = Client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon["Content-Type"] == "image/x-icon"
    assert icon.content == (BASE_DIR / "static" / "favicon.ico").read_bytes()
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # the ICO header

    # every page links the SVG icon (served by whitenoise: tests/infra/test_make_run.py)
    home = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in home
    assert (BASE_DIR / "static" / "favicon.svg").read_text().startswith("<svg")


@pytest.mark.django_db
def test_the_api_root_points_to_the_docs_and_the_first_resources():
    client = Client()
    response = client.get("/api/v1/")
    assert response.status_code == 200
    links = response.json()
    assert links["docs"] == "http://testserver/api/docs/"
    assert links["schema"] == "http://testserver/api/v1/schema/"
    assert links["token"] == "http://testserver/api/v1/auth/token/"
    for name in ("traders", "prices"):  # each link answers, without a token
        assert client.get(links[name]).status_code == 200, name
