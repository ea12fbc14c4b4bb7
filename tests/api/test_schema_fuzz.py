"""The API against its own OpenAPI schema.

- Fuzz: schemathesis generates requests for every operation in /api/v1/schema/ (valid and invalid
  input) as a staff user with a DRF token. No response may be a 5xx, and every response must be
  one the schema describes: a documented status code, a documented content type, and a body
  that validates against that status's schema (paginated lists included). The schema is loaded
  from the WSGI app at import (schemathesis' lazy ``from_fixture`` does not work with pytest 9).
  Examples per operation are bounded so that CI stays fast; raise FUZZ_EXAMPLES locally for a
  deeper run.
- Completeness: every URL under /api/v1/ appears in the schema (no undocumented endpoint).
"""

from __future__ import annotations

import json
import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import build_world

API_PREFIX = "/api/v1/"
SCHEMA_URL = "/api/v1/schema/"


@pytest.fixture
def staff_token(transactional_db) -> str:
    """A staff user's token, in a world where every list has rows (tests/api/conftest.py)."""
    return build_world().token


def load_schema():
    from django.core.handlers.wsgi import WSGIHandler

    return schemathesis.openapi.from_wsgi(SCHEMA_URL, WSGIHandler())


schema = load_schema()


# Transactional, so that each request commits as in production and a durable money service or a
# database error in one request cannot poison the next one.
@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "15")),
    deadline=None,
    derandomize=True,  # the same examples on every run: CI failures reproduce locally
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_operation_answers_as_its_schema_says(case, staff_token):
    headers = {"Authorization": f"Token {staff_token}"}
    response = case.call(headers=headers)
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
        headers=headers,
    )


# --- completeness -----------------------------------------------------------------------------

_PARAM = re.compile(r"\{[^}]*\}")


def _normalise(path: str) -> str:
    """``/copies/{pk}/`` and ``/copies/{id}/`` are the same endpoint."""
    return _PARAM.sub("{}", path)


def _url_paths() -> set[str]:
    """Every routed path under /api/v1/, as an OpenAPI path template."""
    from django.urls import URLPattern, URLResolver, get_resolver
    from rest_framework.schemas.generators import EndpointEnumerator

    to_template = EndpointEnumerator().get_path_from_regex

    def walk(patterns, prefix: str):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                yield to_template(route)

    paths = set()
    for path in walk(get_resolver().url_patterns, ""):
        if not path.startswith(API_PREFIX) or path == SCHEMA_URL:
            continue
        if path.endswith((".{format}", ".{format}/")):  # DRF format-suffix twins
            continue
        paths.add(_normalise(path))
    return paths


def test_every_api_url_is_in_the_schema(client):
    # given the schema the API serves
    response = client.get(SCHEMA_URL, {"format": "json"})
    assert response.status_code == 200
    documented = {_normalise(path) for path in json.loads(response.content)["paths"]}

    # when every URL under /api/v1/ is listed from the URL configuration
    routed = _url_paths()

    # then each one is documented
    undocumented = sorted(routed - documented)
    assert not undocumented, f"API endpoints missing from the OpenAPI schema: {undocumented}"
