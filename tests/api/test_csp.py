"""The Content-Security-Policy header and what the pages send under it.

The policy forbids inline scripts, inline styles and eval; the pages must not need them. The
browser check (tests/browser/test_csp.py) proves the pages run under the policy; these tests
check the header and the HTML quickly, without a browser.
"""

from __future__ import annotations

import re

import pytest

from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.django_db


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


@pytest.mark.parametrize("url", ["/", "/traders/", "/api/docs/", "/api/v1/traders/"])
def test_every_answer_carries_the_policy(client, url):
    response = client.get(url)
    assert response.status_code == 200
    policy = _policy(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]


def _inline_code(html: str) -> list[str]:
    """What the policy would block: inline <script> bodies, <style> blocks, style="" and on*=""
    attributes, htmx hx-on attributes, javascript: URLs and htmx trigger filters."""
    problems = []
    for attrs, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S | re.I):
        if "src=" not in attrs or body.strip():
            problems.append(f"inline <script>: {body.strip()[:60]!r}")
    problems += [
        f"<style>: {m[:60]!r}" for m in re.findall(r"<style\b[^>]*>(.*?)</style>", html, re.S)
    ]
    problems += re.findall(r"\s(?:style|on[a-z]+|hx-on[:\w-]*)\s*=\s*['\"][^'\"]*", html)
    problems += re.findall(r"javascript:", html)
    problems += re.findall(r"hx-trigger\s*=\s*['\"][^'\"]*\[[^'\"]*", html)
    return problems


def test_the_api_docs_page_has_no_inline_code_and_its_script_is_a_file(client):
    page = client.get("/api/docs/")
    html = page.content.decode()
    assert _inline_code(html) == []
    scripts = re.findall(r'<script src="([^"]+)"', html)
    init = [s for s in scripts if "script" in s.split("?", 1)[-1]]
    assert init, scripts
    script = client.get(init[0].replace("&amp;", "&"))
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content


def test_htmx_is_configured_not_to_need_eval_or_inline_styles(client):
    html = client.get("/").content.decode()
    config = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", html)
    assert config, "base.html must configure htmx"
    assert '"includeIndicatorStyles": false' in config[1]
    assert '"allowEval": false' in config[1]


@pytest.mark.parametrize(
    "url,signed_in",
    [("/", True), ("/", False), ("/traders/", False), ("/notifications/", True)]
    + [("/accounts/login/", False), ("/accounts/signup/", False)],
)
def test_pages_have_no_inline_code(client, url, signed_in):
    if signed_in:
        client.force_login(UserFactory())
    response = client.get(url)
    assert response.status_code == 200
    assert _inline_code(response.content.decode()) == []


def test_the_admin_login_has_no_inline_script(client):
    html = client.get("/admin/login/").content.decode()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts), scripts
