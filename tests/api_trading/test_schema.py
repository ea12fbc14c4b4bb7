"""The OpenAPI schema documents every trading endpoint with its request, response and the
error shape of its refusals."""

import pytest

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("/api/v1/traders/", "get"): {"200", "400"},
    ("/api/v1/traders/{trader_id}/", "get"): {"200", "404"},
    ("/api/v1/traders/{trader_id}/positions/", "get"): {"200", "400", "404"},
    ("/api/v1/lead/transfer/", "post"): {"200", "400", "403", "409"},
    ("/api/v1/lead/account/", "get"): {"200", "400", "403"},
    ("/api/v1/lead/positions/", "get"): {"200", "400", "403"},
    ("/api/v1/lead/positions/", "post"): {"201", "400", "403", "404", "409"},
    ("/api/v1/lead/positions/{position_id}/close/", "post"): {"200", "400", "403", "404", "409"},
    ("/api/v1/lead/positions/{position_id}/leverage/", "post"): {"200", "400", "404", "409"},
    ("/api/v1/lead/positions/{position_id}/margin/", "post"): {"200", "400", "404", "409"},
    ("/api/v1/operator/lead-traders/", "post"): {"201", "400", "403", "409"},
    ("/api/v1/operator/lead-traders/{trader_id}/end/", "post"): {"200", "403", "404", "409"},
    ("/api/v1/copies/", "get"): {"200", "400", "403"},
    ("/api/v1/copies/", "post"): {"201", "400", "403", "404", "409"},
    ("/api/v1/copies/{copy_id}/", "get"): {"200", "404"},
    ("/api/v1/copies/{copy_id}/", "patch"): {"200", "400", "404", "409"},
    ("/api/v1/copies/{copy_id}/investment/", "post"): {"200", "400", "404", "409"},
    ("/api/v1/copies/{copy_id}/stop/", "post"): {"200", "404", "409"},
    ("/api/v1/copies/{copy_id}/positions/", "get"): {"200", "400", "404"},
    ("/api/v1/copies/{copy_id}/positions/{position_id}/close/", "post"): {"200", "404", "409"},
    ("/api/v1/copies/{copy_id}/events/", "get"): {"200", "404"},
}


def test_schema_documents_every_trading_endpoint(client):
    r = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert r.status_code == 200
    schema = r.json()
    for (path, method), codes in ENDPOINTS.items():
        op = schema["paths"][path][method]
        assert codes <= set(op["responses"]), (path, method, set(op["responses"]))
        for code in codes - {"200", "201"}:
            ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/Error"), (path, method, code)
        if method in ("post", "patch") and not path.endswith(("/stop/", "/end/", "/close/")):
            assert "requestBody" in op, (path, method)
    money = schema["components"]["schemas"]["Copy"]["properties"]["available_usdt"]
    assert (money["type"], money["format"]) == ("string", "decimal")
    trader = schema["components"]["schemas"]["Trader"]["properties"]
    assert trader["roi_30d"]["nullable"] is True
