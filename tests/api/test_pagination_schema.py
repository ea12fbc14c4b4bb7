"""The schema tells the truth about lists (API.md: it "describes every answer as it really is
(paginated lists included)").

Every GET operation is called with real rows; an answer that is a page
``{count, next, previous, results}`` must be described as that page, and no answer is described
as a bare array. The five operations once described as arrays are named explicitly.
"""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from tests.api.conftest import build_world

pytestmark = pytest.mark.django_db

_SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
GETS = sorted(path for path, item in _SCHEMA["paths"].items() if "get" in item)
PAGE_KEYS = {"count", "next", "previous", "results"}
# operations with a required query parameter
QUERIES = {"/api/v1/traders/{trader_id}/simulate/": "?investment_usdt=1000&days=7"}


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        schema = _SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _ok_schema(path: str) -> dict:
    return _resolve(
        _SCHEMA["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    )


def _is_page(schema: dict) -> bool:
    return (
        schema.get("type") == "object"
        and set(schema.get("properties", {})) >= PAGE_KEYS
        and {"count", "results"} <= set(schema.get("required", []))
        and schema["properties"]["results"].get("type") == "array"
        and schema["properties"]["next"].get("nullable") is True
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/copies/",
        "/api/v1/copies/{copy_id}/positions/",
        "/api/v1/copies/{copy_id}/events/",
        "/api/v1/traders/",
        "/api/v1/lead/positions/",
    ],
)
def test_the_five_once_bare_arrays_are_described_as_pages(path):
    assert _is_page(_ok_schema(path)), _ok_schema(path)
    params = {p["name"] for p in _SCHEMA["paths"][path]["get"].get("parameters", [])}
    assert {"page", "page_size"} <= params
    assert "404" in _SCHEMA["paths"][path]["get"]["responses"]  # a page past the end


@pytest.mark.parametrize("path", GETS)
def test_every_get_answer_is_described_as_it_is(
    api_client, django_capture_on_commit_callbacks, path
):
    with django_capture_on_commit_callbacks(execute=True):  # the lead's open is mirrored
        world = build_world()
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {world.token}")
    ids = {
        "copy_id": world.copy_id,
        "trader_id": world.other_lead_id,
        "instrument": "BTC-USDT-SWAP",  # prices/{instrument}/candles/: a series, not a page
    }
    url = re.sub(r"\{(\w+)\}", lambda m: str(ids[m[1]]), path)
    url += QUERIES.get(path, "")
    response = api_client.get(url)
    assert response.status_code == 200, (url, response.content)
    body = response.json()
    schema = _ok_schema(path)
    assert schema.get("type") != "array", f"{path} is described as a bare array"
    if isinstance(body, dict) and set(body) >= PAGE_KEYS:
        assert _is_page(schema), f"{path} answers a page but is described as {schema}"
        assert body["results"], f"{path}: the world should give this list rows"
    else:
        assert not _is_page(schema), f"{path} is described as a page but answers {body}"
