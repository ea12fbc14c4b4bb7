"""Authentication answers (API.md: "Anonymous calls to protected endpoints answer 401").

- Every operation the schema marks as needing credentials answers an anonymous call with 401,
  ``WWW-Authenticate: Token`` and the error shape, before it looks at the input.
- Public operations stay public; browser sessions still authenticate the API, and a session
  POST without its CSRF token is still refused.
"""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.django_db

_SCHEMA = SchemaGenerator().get_schema(request=None, public=True)


def _operations(*, public: bool) -> list[tuple[str, str]]:
    ops = []
    for path, item in sorted(_SCHEMA["paths"].items()):
        for method, op in sorted(item.items()):
            anonymous_ok = not op.get("security") or {} in op["security"]
            if anonymous_ok == public:
                ops.append((method, path))
    return ops


PROTECTED = _operations(public=False)
PUBLIC = _operations(public=True)


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_schema_has_both_kinds():
    # the parametrisations below are not vacuous
    assert ("get", "/api/v1/copies/") in PROTECTED
    assert ("post", "/api/v1/operator/deposits/") in PROTECTED
    assert ("get", "/api/v1/traders/") in PUBLIC
    assert ("post", "/api/v1/auth/token/") in PUBLIC


@pytest.mark.parametrize("method,path", PROTECTED, ids=[f"{m} {p}" for m, p in PROTECTED])
def test_anonymous_call_to_a_protected_endpoint_is_401(api_client, method, path):
    response = getattr(api_client, method)(_url(path), {}, format="json")
    assert response.status_code == 401, (method, path, response.status_code, response.content)
    assert response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert set(body) == {"detail", "code", "fields"}
    assert body["code"] == "not_authenticated"
    # and the schema documents it
    assert "401" in _SCHEMA["paths"][path][method]["responses"], (method, path)


def test_a_wrong_token_is_401_too(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.get("/api/v1/copies/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.parametrize("method,path", PUBLIC, ids=[f"{m} {p}" for m, p in PUBLIC])
def test_public_endpoints_never_ask_for_credentials(api_client, method, path):
    response = getattr(api_client, method)(_url(path), {}, format="json")
    assert response.status_code not in (401, 403), (method, path, response.content)


def test_a_browser_session_still_authenticates_the_api(client):
    client.force_login(UserFactory())
    response = client.get("/api/v1/wallet/")
    assert response.status_code == 200
    assert response.json()["balance_usdt"] == "0.00000000"


def test_a_session_post_still_needs_its_csrf_token(client):
    from rest_framework.test import APIClient

    client.force_login(UserFactory())
    api = APIClient(enforce_csrf_checks=True)
    api.cookies = client.cookies
    # without the token: refused, as before the reorder
    refused = api.post("/api/v1/notifications/read/", {}, format="json")
    assert refused.status_code == 403
    assert "CSRF" in refused.json()["detail"]
    # with it (the page's hx-headers send X-CSRFToken): accepted
    page = client.get("/")
    csrf = page.cookies.get("csrftoken") or client.cookies.get("csrftoken")
    token = csrf.value if csrf else re.search(r'"X-CSRFToken": "([^"]+)"', page.content.decode())[1]
    api.cookies["csrftoken"] = token
    accepted = api.post("/api/v1/notifications/read/", {}, format="json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200, accepted.content
